from django.core.management.base import CommandError

from carshop.ops.data import csv_files, tables
from carshop.ops.data import transfer as dataio
from carshop.ops.toolkit import OperationsCommand


class Command(OperationsCommand):
    help = (
        "Import data. Every row is checked first (field rules, the model's own rules such as "
        "a valid VIN, unique values, foreign keys); each bad row is reported with its line and "
        "reason, and nothing is written unless every row is good (one transaction). "
        "--dry-run checks only.\n\n"
        "--format=json loads an `export --format=json` file into an empty, migrated database "
        "(or, with --tables, into those tables, which must be empty; a non-empty database is "
        "refused): a restore, every row with its id and values as exported, sequences reset. "
        "It bulk-loads the rows without the models' save(), so it writes no audit entry per "
        "row: the audit log is restored from the file itself, and the run is logged to "
        "app.log with the operator.\n\n"
        "--format=csv imports CSV files (a file, or a folder of <table>.csv) through the "
        "django-import-export resources: a row with the id of an existing row updates it, a "
        "row without id is new. Each row is saved through its model, so every change is in "
        "the audit log, credited to the operator (CARSHOP_OPERATOR). On PostgreSQL the same "
        "checks and writes are made in bulk (the file through COPY, checks in SQL and in "
        "batches, one INSERT and one UPDATE, or into an empty table straight through COPY; "
        "the audit entries in bulk). Documents, ledgers and other tables only the workflows "
        "write are not imported from CSV.\n\n"
        "Example: python manage.py import --format=json --input=all.json --dry-run\n"
        "         python manage.py import --tables=cars --format=csv --input=import/cars.csv"
    )
    changes_data = True

    def add_arguments(self, parser):
        super().add_arguments(parser)
        parser.add_argument(
            "--format",
            choices=("json", "csv"),
            required=True,
            help="json: an export of this tool; csv: spreadsheets",
        )
        parser.add_argument(
            "--tables",
            "--table",
            default="",
            dest="tables",
            help="comma-separated table names, or all (the default: all in the input)",
        )
        parser.add_argument(
            "--input",
            "--file",
            required=True,
            dest="input",
            help="the JSON file; for CSV a file or a folder of <table>.csv",
        )

    def handle(self, *args, **options):
        selected = tables.resolve(options["tables"])
        load = dataio.import_json if options["format"] == "json" else csv_files.import_csv
        report = load(
            options["input"], selected, dry_run=options["dry_run"], progress=self.progress
        )
        for note in report.notes:
            self.stdout.write(f"note: {note}")
        for problem in report.problems:
            self.stdout.write(f"{problem.where}: {problem.reason}")
        if report.problem_count > len(report.problems):
            self.stdout.write(f"... and {report.problem_count - len(report.problems)} more")
        if not report.ok:
            rows = "bad row" if report.problem_count == 1 else "bad rows"
            raise CommandError(
                f"{report.problem_count} {rows} in {options['input']}; nothing was imported"
            )
        for name, rows in report.counts.items():
            if isinstance(rows, dict):
                rows = ", ".join(f"{count} {kind}" for kind, count in rows.items())
            self.stdout.write(f"  {name:<24} {rows}")
        if report.dry_run:
            good = sum(
                rows if isinstance(rows, int) else sum(rows.values())
                for rows in report.counts.values()
            )
            self.stdout.write(f"{good} rows are good; dry run, nothing written")
        else:
            written = sum(
                rows if isinstance(rows, int) else rows["new"] + rows["updated"]
                for rows in report.counts.values()
            )
            self.stdout.write(
                f"imported {written} {'row' if written == 1 else 'rows'} from {options['input']} "
                f"({report.seconds:.1f} s)"
            )
