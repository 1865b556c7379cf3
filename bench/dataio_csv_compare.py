"""The CSV import of one file by two checkouts of Carshop, row by row: each imports the file into
its own copy of one template database, then the vehicles and the audit entries of both are
compared by checksum (each row's md5, in id order), leaving out what holds the moment of the run
(the rows' created_at and updated_at when the run set them, and those two in an entry's changes).
The printed output of both commands must be the same too (the seconds left out).

    python -m bench.dataio_csv_compare --template carshop_x_tpl --old /work/main \\
        --new . --prefix carshop_x_cmp vehicles.csv

The template is a migrated database with what the file's foreign keys name (the customers), and
the vehicles table empty or not; the copies are dropped at the end.
"""

import argparse
import os
import re
import subprocess
import sys
from urllib.parse import urlsplit, urlunsplit

VEHICLES = (
    "SELECT md5(string_agg(md5(row(id, vin, vin_reversed, make, model, model_year, trim, engine, "
    "color, plate, country, owner_id, odometer, odometer_read_on)::text), ',' ORDER BY id)), "
    "count(*) FROM inventory_vehicle"
)
UNTOUCHED = (  # rows the run did not write keep their times
    "SELECT md5(string_agg(md5(row(id, created_at, updated_at)::text), ',' ORDER BY id)) "
    "FROM inventory_vehicle WHERE updated_at < now() - interval '1 hour'"
)
ENTRIES = (
    "SELECT md5(string_agg(md5(row(id, content_type_id, object_pk, object_id, object_repr, "
    "serialized_data, action, changes_text, changes - 'created_at' - 'updated_at', "
    "changes -> 'created_at' ->> 0, changes -> 'updated_at' ->> 0, actor_id, remote_addr, "
    "remote_port, additional_data, actor_email, cid IS NULL)::text), ',' ORDER BY id)), "
    "count(*) FROM auditlog_logentry"
)


def url_for(base: str, name: str) -> str:
    return urlunsplit(urlsplit(base)._replace(path=f"/{name}"))


def psql(url: str, sql: str) -> str:
    return subprocess.run(
        ["psql", "-X", "-q", "-At", "-v", "ON_ERROR_STOP=1", "-d", url, "-c", sql],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("csv")
    parser.add_argument("--template", required=True)
    parser.add_argument("--old", required=True, help="the checkout of the code before")
    parser.add_argument("--new", default=".", help="the checkout of the code after")
    parser.add_argument("--prefix", required=True, help="the copies' names start with this")
    parser.add_argument("--server", default="postgres://postgres@127.0.0.1:5432/postgres")
    args = parser.parse_args(argv)
    results = {}
    for which, tree in (("old", args.old), ("new", args.new)):
        name = f"{args.prefix}_{which}"
        psql(args.server, f"DROP DATABASE IF EXISTS {name}")
        psql(args.server, f"CREATE DATABASE {name} TEMPLATE {args.template}")
        env = dict(os.environ, DATABASE_URL=url_for(args.server, name), DEBUG="false")
        run = subprocess.run(
            [
                sys.executable,
                "manage.py",
                "import",
                "--format=csv",
                "--tables=vehicles",
                f"--input={os.path.abspath(args.csv)}",
            ],
            cwd=tree,
            env=env,
            capture_output=True,
            text=True,
        )
        tree_path = os.path.abspath(tree)
        output = (
            run.returncode,
            re.sub(r"\([0-9.]+ s\)", "", run.stdout),
            run.stderr.replace(tree_path, "TREE"),
        )
        sums = [psql(url_for(args.server, name), sql) for sql in (VEHICLES, UNTOUCHED, ENTRIES)]
        results[which] = (output, sums)
        print(f"{which}: exit {run.returncode}; {run.stdout.strip().splitlines()[-1:]}")
        print(f"  vehicles {sums[0]}, untouched {sums[1]}, audit entries {sums[2]}")
        psql(args.server, f"DROP DATABASE {name}")
    (old_output, old_sums), (new_output, new_sums) = results["old"], results["new"]
    checks = {
        "vehicles": old_sums[0] == new_sums[0],
        "untouched rows": old_sums[1] == new_sums[1],
        "audit entries": old_sums[2] == new_sums[2],
        "output": old_output == new_output,
    }
    print(", ".join(f"{what} {'equal' if same else 'DIFFERENT'}" for what, same in checks.items()))
    return 0 if all(checks.values()) else 1


if __name__ == "__main__":
    raise SystemExit(main())
