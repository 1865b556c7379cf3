"""django-import-export's bulk mode on a CSV file, for bench/dataio.py: the table's resource
(the one Carshop's CSV import uses) with `use_bulk` on, in one transaction.

    DATABASE_URL=... python -m bench.dataio_bulk vehicles vehicles.csv
"""

import sys
import time


def main(argv=None):
    table_name, path = (argv or sys.argv[1:])[:2]
    from bench.run import setup_django

    setup_django()
    import tablib

    from carshop.ops.data import tables
    from carshop.ops.data.csv_files import resource_for

    table = tables.get(table_name)
    plain = type(resource_for(table, include_secrets=True))
    meta = type("Meta", (getattr(plain, "Meta", object),), {"use_bulk": True, "batch_size": 1000})
    bulk = type("BulkResource", (plain,), {"Meta": meta})()
    started = time.monotonic()
    with open(path, encoding="utf-8-sig", newline="") as handle:
        dataset = tablib.Dataset().load(handle.read(), format="csv")
    result = bulk.import_data(dataset, dry_run=False, use_transactions=True, raise_errors=True)
    seconds = time.monotonic() - started
    print(f"{result.totals['new']} new, {result.totals['update']} updated ({seconds:.1f} s)")


if __name__ == "__main__":
    main()
