"""The two PostgreSQL backup engines side by side, in one run, against the bare tools, on a copy
of the large data set (`make bench-data`: 1,000,000 repair orders in carshop_bench).

    .venv/bin/python bench/pitr_bench.py

The source database is only read (pg_dump). Its copy goes into an archiving PostgreSQL cluster
of the bench's own (the machine's PostgreSQL binaries, port 55432, folder
/tmp/carshop-pitr-bench), with pgBackRest configured for it (lz4, process-max 2). Steps:
1. copy the source in (pg_dump -Fd -j2 | pg_restore -j2, WAL archiving off meanwhile), then
   turn archiving on;
2. full backup: `pg_dump -Fc`, then the logical engine's `backup --type=full`, then the
   pgBackRest engine's (`backup --type=full`);
3. write overhead: a bulk update of 1% of the jobs (every hundredth), three slices, with the
   logical engine's capture triggers on; then the logical incremental after 1% of the rows of
   every table changed (every hundredth row);
4. the pgBackRest engine: its full backup (which takes the capture triggers off), the same bulk
   updates without triggers (WAL archived by the server's archiver), its incremental after
   another 1% of every table;
5. restores: the pgBackRest engine's `restore --source latest` of the server (safety backup,
   staged restore, WAL replay, swap: the RTO), `pg_restore` of the pg_dump file into an empty
   database, the logical engine's restore path of its full + incremental chain into another;
6. a recovery drill of the pgBackRest engine (`test_recovery`): its RTO and RPO in seconds.
Steps, in that order: copy, full, write-logical, incremental-logical, pgbackrest,
restore-pgbackrest, restore-bare, restore-logical, drill; `--from-step STEP` starts at one on
the copy an earlier run left (with its figures).
Printed as it goes, and saved to figures.json in that folder.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from carshop.ops.backups.archiving_cluster import Cluster  # noqa: E402

PORT = 55432
DATABASE = "carshop"


def sh(*argv: str, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run(list(argv), check=True, **kwargs)


def timed(function):
    started = time.perf_counter()
    result = function()
    return time.perf_counter() - started, result


def load() -> str:
    with open("/proc/loadavg") as handle:
        return handle.read().split()[0]


class Bench:
    def __init__(self, source_url: str, root: Path) -> None:
        self.source_url = source_url
        self.root = root
        self.cluster = Cluster(root / "pg", PORT, archive_timeout=60)
        self.out = root / "out"
        self.figures: dict = {"load": []}

    def psql(self, sql: str, db: str = DATABASE) -> str:
        return sh(
            "psql", "-h", "127.0.0.1", "-p", str(PORT), "-U", "postgres", "-d", db,
            "-v", "ON_ERROR_STOP=1", "-Atqc", sql, capture_output=True, text=True,
        ).stdout.strip()  # fmt: skip

    def env(self, engine: str) -> dict[str, str]:
        env = {
            **os.environ,
            "DJANGO_ENV": "development",
            "LOG_TO_CONSOLE": "false",
            "DATABASE_URL": self.cluster.url(DATABASE),
            "VAR_DIR": str(self.root / "var"),
            "BACKUP_DIR": str(self.out / "logical"),
            "BACKUP_STATUS_FILE": str(self.root / "status.json"),
            "BACKUP_SCRATCH_DATABASE": "carshop_logical_restore",
        }
        env.update({k: str(v) for k, v in self.cluster.backup_settings().items()})
        env["BACKUP_ENGINE"] = engine
        return env

    def manage(self, engine: str, *args: str) -> dict:
        result = subprocess.run(
            [sys.executable, str(ROOT / "manage.py"), *args, "--format", "json"],
            env=self.env(engine),
            capture_output=True,
            text=True,
            check=False,
        )
        if result.returncode != 0:
            raise RuntimeError(f"{args} failed: {result.stderr}")
        return json.loads(result.stdout)

    def note(self, text: str) -> None:
        self.figures["load"].append(load())
        print(f"[{time.strftime('%H:%M:%S')} load {load()}] {text}", flush=True)

    # --- steps ---------------------------------------------------------------------------------

    def make_copy(self) -> None:
        if self.root.exists():
            self.cluster.stop("immediate", check=False)
            shutil.rmtree(self.root)
        self.root.mkdir(parents=True)
        self.out.mkdir()
        self.cluster.create({"process-max": "2"})
        if os.geteuid() == 0:
            sh("chmod", "777", str(self.out))
        self.psql("ALTER SYSTEM SET archive_command = '/bin/true'", "postgres")
        self.psql("SELECT pg_reload_conf()", "postgres")
        self.psql(f"CREATE DATABASE {DATABASE}", "postgres")
        dump = self.out / "copy.dir"
        seconds, _ = timed(
            lambda: (
                sh("pg_dump", "-d", self.source_url, "-Fd", "-j2", "-Z0", "-f", str(dump)),
                sh(
                    "pg_restore",
                    "-h",
                    "127.0.0.1",
                    "-p",
                    str(PORT),
                    "-U",
                    "postgres",
                    "-d",
                    DATABASE,
                    "-j2",
                    "--no-owner",
                    str(dump),
                ),
            )
        )
        shutil.rmtree(dump)
        self.psql("ALTER SYSTEM RESET archive_command", "postgres")
        self.psql("SELECT pg_reload_conf()", "postgres")
        self.psql("VACUUM ANALYZE")
        self.psql("CHECKPOINT")
        size = int(self.psql("SELECT pg_database_size(current_database())"))
        orders = int(self.psql("SELECT count(*) FROM repairs_repairorder"))
        rows = int(
            self.psql("SELECT sum(n_live_tup) FROM pg_stat_user_tables WHERE schemaname='public'")
        )
        self.figures.update(database_bytes=size, repair_orders=orders, rows=rows)
        self.note(
            f"copy made in {seconds:.0f}s: {size / 2**30:.2f} GB, {orders:,} repair orders, "
            f"{rows:,} rows"
        )

    def full_backups(self) -> None:
        bare = self.out / "bare.dump"
        url = self.cluster.url(DATABASE)
        bare_s, _ = timed(lambda: sh("pg_dump", "-d", url, "-Fc", "-f", str(bare)))
        self.note(f"pg_dump -Fc: {bare_s:.1f}s, {bare.stat().st_size / 2**20:.0f} MB")
        logical_s, logical = timed(lambda: self.manage("logical", "backup", "--type=full"))
        size = logical["backup"]["file"]["size"]
        self.note(f"logical full: {logical_s:.1f}s, {size / 2**20:.0f} MB")
        self.figures["full"] = {
            "pg_dump_seconds": bare_s,
            "pg_dump_bytes": bare.stat().st_size,
            "logical_seconds": logical_s,
            "logical_bytes": size,
            "logical_manifest": logical["backup"]["id"],
        }

    def write_overhead(self, engine: str) -> list[float]:
        times = []
        for n in range(3):
            statement = f"UPDATE repairs_job SET position = position WHERE id % 100 = {n}"  # noqa: S608
            seconds, _ = timed(lambda s=statement: self.psql(s))
            times.append(seconds)
        count = int(self.psql("SELECT count(*) FROM repairs_job WHERE id % 100 = 0"))
        self.figures.setdefault("write", {})[engine] = {"seconds": times, "rows": count}
        self.note(
            f"bulk update of {count:,} jobs ({engine}): " + ", ".join(f"{t:.2f}s" for t in times)
        )
        return times

    def change_one_percent(self, offset: int) -> int:
        tables = self.psql(
            "SELECT c.table_name FROM information_schema.columns c JOIN pg_stat_user_tables s "
            "ON s.relname = c.table_name WHERE c.table_schema = 'public' AND c.column_name = 'id' "
            "AND c.data_type IN ('bigint', 'integer') AND c.table_name NOT LIKE 'carshop_backup%'"
        ).split()
        changed = 0
        for table in tables:
            out = self.psql(
                f'WITH u AS (UPDATE "{table}" SET id = id WHERE id % 100 = {offset} '  # noqa: S608
                f"RETURNING 1) SELECT count(*) FROM u"
            )
            changed += int(out or 0)
        return changed

    def logical_incremental(self) -> None:
        changed = self.change_one_percent(50)
        seconds, result = timed(
            lambda: self.manage("logical", "backup", "--type=incremental", "--compress")
        )
        size = result["backup"]["file"]["size"]
        self.figures["incremental_logical"] = {"seconds": seconds, "bytes": size, "rows": changed}
        self.note(
            f"logical incremental after {changed:,} rows: {seconds:.1f}s, {size / 2**20:.1f} MB"
        )

    def bare_restore(self) -> None:
        self.psql("DROP DATABASE IF EXISTS carshop_bare_restore", "postgres")
        self.psql("CREATE DATABASE carshop_bare_restore", "postgres")
        seconds, _ = timed(
            lambda: sh("pg_restore", "-h", "127.0.0.1", "-p", str(PORT), "-U", "postgres",
                       "-d", "carshop_bare_restore", "--no-owner", str(self.out / "bare.dump"))
        )  # fmt: skip
        self.figures.setdefault("restore", {})["pg_restore_seconds"] = seconds
        self.note(f"pg_restore: {seconds:.1f}s")
        self.psql("DROP DATABASE carshop_bare_restore", "postgres")

    def logical_restore(self) -> None:
        """The logical engine's restore path into an empty database: the chain verified (SHA-256
        of every file), the one-transaction restore of the full backup and the incremental, and
        its check of every table's row count and checksum."""
        self.psql("DROP DATABASE IF EXISTS carshop_logical_restore", "postgres")
        self.psql("CREATE DATABASE carshop_logical_restore", "postgres")
        newest = max((self.out / "logical").glob("*.manifest.json"), key=lambda p: p.name)
        script = (
            "import json, time\n"
            "from carshop.ops.backups import service\n"
            f"manifest, place = service.resolve_source({str(newest)!r})\n"
            "chain = service.resolve_chain(manifest, place)\n"
            "target = service.Target.live().with_name('carshop_logical_restore')\n"
            "started = time.perf_counter()\n"
            "local = service.verify_chain(chain, target)\n"
            "service._restore_into(target, [(m, path) for m, path, _ in local])\n"
            "service.release(local)\n"
            "print(json.dumps({'seconds': time.perf_counter() - started, "
            "'chain': [m['id'] for m, _ in chain]}))\n"
        )
        result = subprocess.run(
            [sys.executable, str(ROOT / "manage.py"), "shell", "-c", script],
            env=self.env("logical"),
            capture_output=True,
            text=True,
            check=False,
        )
        if result.returncode != 0:
            raise RuntimeError(f"the logical restore failed: {result.stderr[-4000:]}")
        figures = json.loads(result.stdout.strip().splitlines()[-1])
        self.figures.setdefault("restore", {})["logical_seconds"] = figures["seconds"]
        self.note(
            f"logical restore of {len(figures['chain'])} backups (full + incremental): "
            f"{figures['seconds']:.1f}s"
        )
        self.psql("DROP DATABASE carshop_logical_restore", "postgres")

    def pgbackrest_backups(self) -> None:
        seconds, full = timed(lambda: self.manage("pgbackrest", "backup", "--type=full"))
        self.figures["full"].update(
            pgbackrest_seconds=seconds, pgbackrest_bytes=full["backup"]["size"]
        )
        self.note(f"pgBackRest full: {seconds:.1f}s, {full['backup']['size'] / 2**20:.0f} MB")
        self.write_overhead("pgbackrest")
        changed = self.change_one_percent(51)
        seconds, incr = timed(lambda: self.manage("pgbackrest", "backup", "--type=incremental"))
        self.figures["incremental_pgbackrest"] = {
            "seconds": seconds,
            "bytes": incr["backup"]["size"],
            "rows": changed,
        }
        self.note(
            f"pgBackRest incremental after {changed:,} rows: {seconds:.1f}s, "
            f"{incr['backup']['size'] / 2**20:.1f} MB"
        )

    def pgbackrest_restore(self) -> None:
        seconds, report = timed(
            lambda: self.manage("pgbackrest", "restore", "--source", "latest", "--yes")
        )
        self.figures.setdefault("restore", {}).update(
            pgbackrest_seconds=seconds,
            pgbackrest_restore_seconds=report["restore_seconds"],
        )
        self.note(
            f"pgBackRest restore to latest: {seconds:.1f}s in all, of which staged restore, "
            f"replay and swap {report['restore_seconds']:.1f}s"
        )

    def pgbackrest_drill(self) -> None:
        seconds, _ = timed(lambda: self.manage("pgbackrest", "test_recovery"))
        metrics = self.manage("pgbackrest", "record_recovery_metrics")
        self.figures["drill"] = {
            "seconds": seconds,
            "rto_seconds": metrics["rto_seconds"],
            "rpo_seconds": metrics["rpo_seconds"],
        }
        self.note(
            f"pgBackRest drill: RTO {metrics['rto_seconds']:.1f}s, "
            f"RPO {metrics['rpo_seconds']:.0f}s"
        )


STEPS = (
    "copy",
    "full",
    "write-logical",
    "incremental-logical",
    "pgbackrest",
    "restore-pgbackrest",
    "restore-bare",
    "restore-logical",
    "drill",
)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--source", default="postgres://postgres@127.0.0.1:5432/carshop_bench")
    parser.add_argument("--root", default="/tmp/carshop-pitr-bench")  # noqa: S108
    parser.add_argument(
        "--from-step",
        choices=STEPS,
        default=STEPS[0],
        help="start at this step, on the copy and with the figures an earlier run left",
    )
    parser.add_argument(
        "--skip", action="append", default=[], choices=STEPS, help="leave this step out"
    )
    options = parser.parse_args()
    bench = Bench(options.source, Path(options.root))
    steps = {
        "copy": bench.make_copy,
        "full": bench.full_backups,
        "write-logical": lambda: bench.write_overhead("logical"),
        "incremental-logical": bench.logical_incremental,
        "pgbackrest": bench.pgbackrest_backups,
        "restore-pgbackrest": bench.pgbackrest_restore,
        "restore-bare": bench.bare_restore,
        "restore-logical": bench.logical_restore,
        "drill": bench.pgbackrest_drill,
    }
    figures_file = Path(options.root) / "figures.json"
    if options.from_step != STEPS[0]:
        bench.figures = json.loads(figures_file.read_text())
        bench.figures.setdefault("resumed_at", []).append(options.from_step)
        if not bench.cluster.running():
            bench.cluster.start()
    try:
        for name in STEPS[STEPS.index(options.from_step) :]:
            if name not in options.skip:
                steps[name]()
    finally:
        figures_file.write_text(json.dumps(bench.figures, indent=2))
        print(json.dumps(bench.figures, indent=2))
        bench.cluster.stop("fast", check=False)


if __name__ == "__main__":
    main()
