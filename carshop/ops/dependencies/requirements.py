"""Pinned requirements (requirements/*.txt): which have newer versions, and moving one pin.

Every dependency is pinned `name==version` on its own line, followed by a comment saying what
Carshop uses it for. Newer versions are found by pip itself (`pip list --outdated`) in the
running environment, against the package index pip is configured with. pip says nothing when
the index does not answer (it reports what the local wheels offer, or nothing), so the index is
asked first and an unreachable index is an error, never an empty report.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import urllib.error
import urllib.request
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from django.conf import settings
from django.core.management.base import CommandError
from packaging.version import InvalidVersion, Version

if TYPE_CHECKING:
    from collections.abc import Callable
    from subprocess import CompletedProcess

    from _typeshed import StrPath

DEFAULT_INDEX = "https://pypi.org/simple"
INDEX_TIMEOUT_SECONDS = 15
_PIN = re.compile(
    r"^(?P<name>[A-Za-z0-9][A-Za-z0-9._-]*)==(?P<version>[^\s#;]+)"
    r"(?P<gap>\s*)(?P<rest>.*)$"
)
_REQUIREMENT = re.compile(r"^(?P<name>[A-Za-z0-9][A-Za-z0-9._-]*)==(?P<version>[^\s#;]+)$")


def requirements_dir() -> Path:
    return Path(settings.BASE_DIR) / "requirements"


def canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


@dataclass
class Pin:
    file: str
    line: int
    name: str
    version: str

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def read_pins(directory: StrPath) -> list[Pin]:
    """Every `name==version` line of the directory's *.txt files, by file then line."""
    directory = Path(directory)
    files = sorted(directory.glob("*.txt"))
    if not files:
        raise CommandError(f"no requirements files (*.txt) in {directory}")
    pins = []
    for path in files:
        for number, text in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
            match = _PIN.match(text)
            if match:
                pins.append(Pin(path.name, number, match.group("name"), match.group("version")))
    return pins


def parse_requirement(value: str) -> tuple[str, str]:
    """NAME==VERSION from the command line, or CommandError."""
    match = _REQUIREMENT.match(value.strip())
    if not match:
        raise CommandError(
            f"--package must be NAME==VERSION (for example Django==5.2.20), got {value!r}"
        )
    try:
        Version(match.group("version"))
    except InvalidVersion:
        raise CommandError(
            f"--package {value}: {match.group('version')!r} is not a version number"
        ) from None
    return match.group("name"), match.group("version")


# --- newer versions -----------------------------------------------------------------------------


def _pip(*args: str, env: dict[str, str] | None = None) -> CompletedProcess[str]:
    try:
        return subprocess.run(
            [sys.executable, "-m", "pip", *args],
            capture_output=True,
            text=True,
            timeout=600,
            env=env,
            check=False,
        )
    except subprocess.TimeoutExpired:
        raise CommandError(
            f"could not check for newer versions: pip {args[0]} did not finish in 10 minutes"
        ) from None


def configured_index() -> str:
    """The index pip uses: PIP_INDEX_URL, else pip's configuration, else PyPI."""
    if os.environ.get("PIP_INDEX_URL"):
        return os.environ["PIP_INDEX_URL"]
    result = _pip("config", "get", "global.index-url")
    value = result.stdout.strip()
    return value if result.returncode == 0 and value else DEFAULT_INDEX


def check_index(index_url: str) -> None:
    """CommandError unless the index answers for a project every index has (pip)."""
    url = f"{index_url.rstrip('/')}/pip/"
    if not url.startswith(("https://", "http://")):
        raise CommandError(
            f"could not check for newer versions: the package index {index_url} "
            f"is not an http(s) index"
        )
    try:
        with urllib.request.urlopen(url, timeout=INDEX_TIMEOUT_SECONDS) as response:  # noqa: S310
            response.read(1)
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise CommandError(
            f"could not check for newer versions: the package index {index_url} "
            f"did not answer ({reason})"
        ) from None


def outdated(directory: StrPath, index_url: str) -> dict[str, Any]:
    """The pins of the directory with the installed and the latest version of each; pins newer
    versions exist for are `outdated`, pins not installed here are `unchecked`."""
    pins = read_pins(directory)
    check_index(index_url)
    env = {**os.environ, "PIP_INDEX_URL": index_url}
    listed = _pip("list", "--format", "json", env=env)
    newer = _pip("list", "--outdated", "--format", "json", env=env)
    for result in (listed, newer):
        if result.returncode != 0:
            last = (result.stderr.strip().splitlines() or ["no output"])[-1]
            raise CommandError(f"could not check for newer versions: pip list failed: {last}")
    installed = {canonical(row["name"]): row["version"] for row in json.loads(listed.stdout)}
    latest = {canonical(row["name"]): row["latest_version"] for row in json.loads(newer.stdout)}
    rows = []
    for pin in pins:
        key = canonical(pin.name)
        here = installed.get(key)
        newest = latest.get(key, here)
        row = {**pin.as_dict(), "installed": here, "latest": newest}
        if here is None:
            row["status"] = "unchecked"
        elif Version(cast(str, newest)) > Version(pin.version):  # installed, so listed
            row["status"] = "outdated"
        else:
            row["status"] = "current"
        rows.append(row)
    return {
        "index": index_url,
        "pins": rows,
        "outdated": [row for row in rows if row["status"] == "outdated"],
        "unchecked": [row for row in rows if row["status"] == "unchecked"],
    }


# --- moving one pin -----------------------------------------------------------------------------


def rewrite_pin(text: str, name: str, version: str) -> tuple[str, list[str]]:
    """The file's text with NAME's pin set to version, its comment kept in its column.
    Returns (new text, [old versions])."""
    key = canonical(name)
    old = []
    lines = text.splitlines(keepends=True)
    for index, line in enumerate(lines):
        body = line.rstrip("\r\n")
        match = _PIN.match(body)
        if not match or canonical(match.group("name")) != key:
            continue
        old.append(match.group("version"))
        head = f"{match.group('name')}=={version}"
        rest = match.group("rest")
        if rest:
            width = match.start("rest")
            head = head.ljust(width - 1) + " " if len(head) < width else head + " "
        lines[index] = head + rest + line[len(body) :]
    return "".join(lines), old


def plan_update(
    directory: StrPath, name: str, version: str
) -> tuple[dict[Path, tuple[str, str]], list[str]]:
    """{file: (old text, new text)} for the files that pin NAME, and its old versions, or
    CommandError."""
    directory = Path(directory)
    changes = {}
    old_versions = []
    for path in sorted(directory.glob("*.txt")):
        text = path.read_text(encoding="utf-8")
        new, old = rewrite_pin(text, name, version)
        if old:
            changes[path] = (text, new)
            old_versions.extend(old)
    if not changes:
        pinned = ", ".join(sorted({pin.name for pin in read_pins(directory)}, key=str.lower))
        raise CommandError(f"{name} is not pinned in {directory}/*.txt; pinned: {pinned}")
    if set(old_versions) == {version}:
        raise CommandError(f"{name} is already pinned at {version}")
    return changes, sorted(set(old_versions))


def _run(
    step: str, args: list[str], env: dict[str, str] | None = None, cwd: StrPath | None = None
) -> tuple[bool, str]:
    result = subprocess.run(args, capture_output=True, text=True, env=env, cwd=cwd, check=False)
    tail = (result.stdout + result.stderr).strip().splitlines()[-1:] or ["no output"]
    return (
        result.returncode == 0,
        f"{step}: {'ok' if result.returncode == 0 else 'failed'} ({tail[0][:200]})",
    )


def update_requirement(
    directory: StrPath,
    name: str,
    version: str,
    *,
    install: Callable[[str, str], list[str]],
    test: Callable[[], list[str]],
    say: Callable[[str], object] = print,
) -> list[str]:
    """Pin NAME==version in every file that pins it, install it and run the tests; when the
    install or the tests fail, put the old pins back and reinstall the old version.
    install(name, version) and test() are argument lists. Returns (True, steps) or raises
    CommandError after restoring."""
    changes, old_versions = plan_update(directory, name, version)
    steps = []
    for path, (_old, new) in changes.items():
        path.write_text(new, encoding="utf-8")
        steps.append(f"pinned {name}=={version} in {path.name} (was {', '.join(old_versions)})")
        say(steps[-1])
    ok, line = _run("install", install(name, version))
    steps.append(line)
    say(line)
    if ok:
        env = {**os.environ, "DJANGO_ENV": "test"}
        ok, line = _run("tests", test(), env=env, cwd=settings.BASE_DIR)
        steps.append(line)
        say(line)
    if ok:
        return steps
    for path, (old, _new) in changes.items():
        path.write_text(old, encoding="utf-8")
    say(f"restored the old pin in {', '.join(path.name for path in changes)}")
    back, line = _run("reinstall", install(name, old_versions[0]))
    say(line)
    failed = steps[-1].split(":", 1)[0]
    if not back:
        raise CommandError(
            f"{name}=={version}: {failed} failed; the old pin is restored but "
            f"{name}=={old_versions[0]} did not reinstall: pip install -r "
            f"requirements/development.txt"
        )
    raise CommandError(
        f"{name}=={version}: {failed} failed; the old pin "
        f"{name}=={old_versions[0]} is restored and reinstalled"
    )


def pip_install(name: str, version: str) -> list[str]:
    return [sys.executable, "-m", "pip", "install", "--quiet", f"{name}=={version}"]


def pytest_suite() -> list[str]:
    return [sys.executable, "-m", "pytest", "-q", "-x"]
