from django.core.management.base import CommandError

from carshop.ops.data import csv_files, tables
from carshop.ops.data import transfer as dataio
from carshop.ops.toolkit import OperationsCommand
from core.replicas import read_database


class Command(OperationsCommand):
    help = (
        "Export data. --format=json: the whole database (or the tables of --tables) as one "
        "JSON file that `import` loads back into an empty, migrated database identically (ids, "
        "every field, the audit log); read from one consistent snapshot and streamed, so memory "
        "stays flat however large the tables. --format=csv: one CSV file per table through the "
        "django-import-export resources, into the folder --output (or the file --output when "
        "one table is asked for). Password hashes, API key hashes and webhook secrets are left "
        "out unless --include-secrets (then keep the file as safe as a backup). Tables: "
        f"{tables.valid_names()}.\n\n"
        "Example: python manage.py export --format=json --output=/var/backups/carapp/all.json\n"
        "         python manage.py export --tables=cars,sales --format=csv --output=export/"
    )

    def add_arguments(self, parser):
        super().add_arguments(parser)
        parser.add_argument(
            "--format",
            choices=("json", "csv"),
            required=True,
            help="json: whole-database export; csv: one file per table",
        )
        parser.add_argument(
            "--tables",
            "--table",
            default="",
            dest="tables",
            help="comma-separated table names, or all (the default: every table)",
        )
        parser.add_argument(
            "--output",
            "--file",
            required=True,
            dest="output",
            help="the JSON file; for CSV the folder (or the file, for one table)",
        )
        parser.add_argument(
            "--include-secrets",
            action="store_true",
            help="also export password hashes, API key hashes, webhook secrets",
        )
        parser.add_argument(
            "--workers",
            type=int,
            default=dataio.EXPORT_WORKERS,
            help=(
                "JSON on PostgreSQL: parallel workers of the database reading each large table "
                f"(default {dataio.EXPORT_WORKERS}; 0: the export's connection alone, for a busy "
                "server without a replica)"
            ),
        )

    def handle(self, *args, **options):
        selected = tables.resolve(options["tables"])
        if options["workers"] < 0:
            raise CommandError("--workers: 0 or more")
        arguments = {
            "include_secrets": options["include_secrets"],
            "using": read_database(),
            "progress": self.progress,
        }
        if options["format"] == "json":
            summary = dataio.export_json(
                options["output"], selected, workers=options["workers"], **arguments
            )
        else:
            summary = csv_files.export_csv(options["output"], selected, **arguments)
        for name, rows in summary["tables"].items():
            if rows or options["verbosity"] > 1:
                self.stdout.write(f"  {name:<24} {rows:>10}")
        secrets = "with secrets" if summary["include_secrets"] else "without secrets"
        self.stdout.write(
            f"exported {summary['rows']} rows of {len(summary['tables'])} tables "
            f"to {summary['path']} ({secrets}, {summary['seconds']:.1f} s)"
        )
