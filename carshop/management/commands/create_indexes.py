from carshop.management.commands.optimize_indexes import action_lines, finish, summary
from carshop.ops.database.connections import connection_for
from carshop.ops.database.indexes import create_missing_indexes
from carshop.ops.toolkit import OperationsCommand


class Command(OperationsCommand):
    help = (
        "Create every declared index the database lacks: the models' Meta.indexes, db_index "
        "fields (foreign keys included), unique fields and constraints, and the trigram indexes "
        "the migrations create on PostgreSQL. Built with Django's schema editor; on PostgreSQL "
        "with CREATE INDEX CONCURRENTLY, outside any transaction, after dropping an INVALID "
        "leftover of the same name. Drops nothing else and changes nothing else.\n\n"
        "Example: python manage.py create_indexes --dry-run"
    )
    report_command = True
    changes_data = True

    def add_arguments(self, parser):
        super().add_arguments(parser)
        parser.add_argument(
            "--database", default="default", help="database alias of DATABASES (default: default)"
        )

    def handle(self, *args, **options):
        connection = connection_for(options["database"])
        result = create_missing_indexes(
            connection, dry_run=options["dry_run"], progress=self.progress
        )
        finish(self, options, result, [summary(result, "create_indexes"), *action_lines(result)])
