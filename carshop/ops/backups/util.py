"""Small pieces shared by the engines: checksums, files, child processes, pause points."""

from __future__ import annotations

import contextlib
import gzip
import hashlib
import os
import shutil
import signal
import subprocess
import sys
import time
from typing import TYPE_CHECKING, Any

import xxhash

from carshop.ops.backups.errors import BackupError

if TYPE_CHECKING:
    from collections.abc import Iterable, Sequence
    from io import BufferedReader
    from subprocess import Popen

    from _typeshed import StrPath

MOD64 = 1 << 64
CHUNK = 1024 * 1024


# --- table checksums ---------------------------------------------------------------------------
# A table's checksum is the sum, modulo 2**64, of a 64-bit hash of each row's text. A sum does not
# depend on row order and can be updated from the rows that changed alone, which is what lets an
# incremental backup record every table's checksum without reading the whole table.
# SQLite's rows are hashed here, by checksum scheme (capture.sqlite_row_text): BLAKE2b-64 (little
# endian) in scheme 1, XXH3-64 from scheme 2 on, ten times cheaper per row (the sums detect
# damage and mistakes; they are not a signature).


def checksum_hex(total: int) -> str:
    return f"{int(total) % MOD64:016x}"


def row_hash(text_bytes: bytes, scheme: int) -> int:
    if scheme == 1:
        return int.from_bytes(hashlib.blake2b(text_bytes, digest_size=8).digest(), "little")
    return xxhash.xxh3_64_intdigest(text_bytes)


def row_hash_sum(rows: Iterable[tuple[bytes]], scheme: int | None) -> int:
    """The sum of row_hash() of each row's text, for rows (text,) as a cursor returns them: one
    call per batch of rows, no Python function call per row."""
    if scheme == 1:
        blake2b, from_bytes = hashlib.blake2b, int.from_bytes
        return sum(
            [from_bytes(blake2b(text, digest_size=8).digest(), "little") for (text,) in rows]
        )
    return sum(map(xxhash.xxh3_64_intdigest, [text for (text,) in rows]))


# --- files -------------------------------------------------------------------------------------


def sha256_file(path: StrPath) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while block := handle.read(CHUNK):
            digest.update(block)
    return digest.hexdigest()


def fsync_file(path: StrPath) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def fsync_dir(path: StrPath) -> None:
    with contextlib.suppress(OSError):  # not every filesystem lets a folder be fsynced
        fsync_file(path)


def gzip_file(source: StrPath, target: StrPath, level: int = 6) -> None:
    with open(source, "rb") as src, gzip.open(target, "wb", compresslevel=level) as dst:
        shutil.copyfileobj(src, dst, CHUNK)


def open_maybe_gzip(path: StrPath) -> gzip.GzipFile | BufferedReader:
    with open(path, "rb") as handle:
        magic = handle.read(2)
    return gzip.open(path, "rb") if magic == b"\x1f\x8b" else open(path, "rb")


def read_magic(path: StrPath, size: int = 16) -> bytes:
    with open_maybe_gzip(path) as handle:
        return handle.read(size)


def remove_quietly(*paths: StrPath) -> None:
    for path in paths:
        with contextlib.suppress(FileNotFoundError):
            os.remove(path)


def disk_error(exc: OSError, where: str) -> BackupError:
    """A one-line message for a failed write (a full disk above all)."""
    import errno

    if getattr(exc, "errno", None) in (errno.ENOSPC, errno.EDQUOT, errno.EFBIG):
        return BackupError(
            f"not enough space in {where}: {exc.strerror}; earlier backups are untouched"
        )
    return BackupError(f"could not write to {where}: {exc}")


# --- child processes ---------------------------------------------------------------------------


def _die_with_parent() -> None:
    """Run in the child before exec: if this process is killed, the child is killed too, so a
    killed restore never leaves psql behind to commit a half-done job."""
    if sys.platform.startswith("linux"):
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG


def spawn(args: Sequence[str], **kwargs: Any) -> Popen[bytes]:
    try:
        return subprocess.Popen(args, preexec_fn=_die_with_parent, **kwargs)
    except FileNotFoundError:
        raise BackupError(
            f"{args[0]} not found: install the PostgreSQL client tools "
            "(Debian: apt-get install postgresql-client)"
        ) from None


def last_error_line(stderr_bytes: bytes, fallback: str) -> str:
    lines = [
        line.strip()
        for line in stderr_bytes.decode("utf-8", "replace").splitlines()
        if line.strip()
    ]
    errors = [line for line in lines if "ERROR" in line or "error" in line or "FATAL" in line]
    return (errors or lines or [fallback])[-1]


# --- pause points ------------------------------------------------------------------------------

PAUSE_ENV = "CARSHOP_BACKUP_PAUSE_AT"


def pause_point(name: str) -> None:
    """Stop here for a while when CARSHOP_BACKUP_PAUSE_AT names this point.

    Fault-injection for the recovery tests and for drills: a test runs `restore` in a child
    process, waits for the line "paused at NAME" and kills it there with SIGKILL, then checks
    that the database is exactly the old one (or exactly the restored one). Off unless the
    variable is set."""
    wanted = os.environ.get(PAUSE_ENV, "")
    if name and name in wanted.split(","):
        sys.stderr.write(f"paused at {name}\n")
        sys.stderr.flush()
        time.sleep(float(os.environ.get("CARSHOP_BACKUP_PAUSE_SECONDS", "60")))
