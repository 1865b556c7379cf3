from django.core.management.base import CommandError

from carshop.management.commands.analyze_indexes import suggestion_lines
from carshop.ops.database.connections import connection_for
from carshop.ops.database.indexes import create_missing_indexes
from carshop.ops.toolkit import OperationsCommand


def action_lines(result):
    verb = "would run" if result["dry_run"] else "ran"
    lines = []
    for action in result["actions"]:
        status = {"planned": "PLAN", "done": "DONE", "failed": "FAIL"}[action["status"]]
        lines.append(
            f"  {status}  {action['index']} on {action['table']} ({action['kind']}, "
            f"{action['source']})"
        )
        for statement in action["statements"]:
            lines.append(f"          {verb}: {statement}")
        if action.get("error"):
            lines.append(f"          error: {action['error']}")
    return lines


def finish(command, options, result, lines):
    """Print, and exit non-zero (one line) when an index could not be built."""
    command.emit(options, result, lines)
    failed = [action for action in result["actions"] if action["status"] == "failed"]
    if failed:
        raise CommandError(
            f"{len(failed)} of {len(result['actions'])} index changes failed: "
            + ", ".join(f"{action['index']} ({action['error']})" for action in failed)
        )


def summary(result, what):
    actions = result["actions"]
    if not actions:
        return f"{what}: nothing to do on {result['database']} {result['name']}"
    done = sum(action["status"] == "done" for action in actions)
    if result["dry_run"]:
        return f"{what} (dry run, nothing changed): {len(actions)} to do"
    return f"{what}: {done} of {len(actions)} done"


class Command(OperationsCommand):
    help = (
        "Apply the safe index changes analyze_indexes finds: create every declared index the "
        "database lacks (the models' own definitions, through Django's schema editor; on "
        "PostgreSQL CREATE INDEX CONCURRENTLY outside any transaction, after dropping an "
        "INVALID leftover of the same name) and, with --reindex-bloated, rebuild bloated "
        "B-trees (REINDEX INDEX CONCURRENTLY). Never drops an index: unused and duplicate ones "
        "are listed with the DROP statement to review.\n\n"
        "Example: python manage.py optimize_indexes --dry-run"
    )
    report_command = True
    changes_data = True

    def add_arguments(self, parser):
        super().add_arguments(parser)
        parser.add_argument(
            "--reindex-bloated",
            action="store_true",
            help="PostgreSQL: also rebuild bloated indexes (needs pgstattuple)",
        )
        parser.add_argument(
            "--database", default="default", help="database alias of DATABASES (default: default)"
        )

    def handle(self, *args, **options):
        connection = connection_for(options["database"])
        result = create_missing_indexes(
            connection,
            dry_run=options["dry_run"],
            reindex_bloated=options["reindex_bloated"],
            progress=self.progress,
        )
        lines = [summary(result, "optimize_indexes"), *action_lines(result)]
        if options["reindex_bloated"] and not result["analysis"]["bloat"]["measured"]:
            lines.append(f"bloat: {result['analysis']['bloat']['note']}")
        suggestions = suggestion_lines({**result["analysis"], "missing": []}, limit=20)
        if suggestions:
            lines.append("suggestions, not applied:")
            lines.extend(f"  {line}" for line in suggestions)
        finish(self, options, result, lines)
