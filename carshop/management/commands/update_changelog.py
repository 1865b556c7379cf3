from django.conf import settings

from carshop.ops.docs.changelog import update_changelog
from carshop.ops.toolkit import OperationsCommand


class Command(OperationsCommand):
    help = (
        "Write CHANGELOG.md from the commit messages (git log): one line per commit, newest "
        "first, under a heading per release tag (commits since the newest under Unreleased) or, "
        "without tags, per day; merges on one line each. Lines people edited, text above the "
        "first heading and sections the run does not cover are kept; a second run without new "
        "commits writes nothing.\n\n"
        "Example: python manage.py update_changelog --dry-run"
    )
    report_command = True
    changes_data = True

    def add_arguments(self, parser):
        super().add_arguments(parser)
        parser.add_argument(
            "--since", metavar="REF", help="only commits after this commit, branch or tag"
        )
        parser.add_argument(
            "--output",
            metavar="FILE",
            help="the changelog file (default: CHANGELOG.md of the repository)",
        )
        parser.add_argument(
            "--repository",
            metavar="DIR",
            default=str(settings.BASE_DIR),
            help="the git repository (default: the project's checkout)",
        )

    def handle(self, *args, **options):
        result = update_changelog(
            options["repository"],
            output=options["output"],
            since=options["since"],
            dry_run=options["dry_run"],
        )
        verb = "would add" if result["dry_run"] else "added"
        lines = [
            f"{result['commits']} commits ({result['merges']} merges) in "
            f"{len(result['sections'])} sections"
        ]
        lines.extend(f"  {verb} {line}" for line in result["added"])
        if not result["changed"]:
            lines.append(f"{result['output']} is up to date: nothing to add")
        elif result["dry_run"]:
            lines.append(
                f"{len(result['added'])} entries would be added to {result['output']}; "
                f"dry run, nothing written"
            )
        else:
            lines.append(f"{len(result['added'])} entries added to {result['output']}")
        self.emit(options, result, lines)
