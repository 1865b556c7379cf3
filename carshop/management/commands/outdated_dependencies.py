from django.core.management.base import CommandError

from carshop.ops.dependencies.requirements import configured_index, outdated, requirements_dir
from carshop.ops.toolkit import OperationsCommand


class Command(OperationsCommand):
    help = (
        "Which pinned packages of requirements/*.txt have newer versions: pip list --outdated "
        "in the running environment, against the package index pip is configured with "
        "(PIP_INDEX_URL or pip.conf, else PyPI; --index-url for another). The index is asked "
        "first: when it does not answer, the command says it could not check and exits 1, "
        "because an unknown result is not a pass. A pin whose package is not installed here "
        "cannot be checked either: it is listed and the command exits 1. Changes nothing; "
        "update_requirements moves a pin.\n\n"
        "Example: python manage.py outdated_dependencies --format json"
    )
    report_command = True

    def add_arguments(self, parser):
        super().add_arguments(parser)
        parser.add_argument(
            "--index-url", metavar="URL", help="the package index to ask (default: pip's own)"
        )
        parser.add_argument(
            "--requirements-dir",
            metavar="DIR",
            help="the folder of the requirements files (default: requirements/)",
        )

    def handle(self, *args, **options):
        directory = options["requirements_dir"] or requirements_dir()
        index = options["index_url"] or configured_index()
        report = outdated(directory, index)
        lines = [
            f"{len(report['pins'])} pins in {directory}, checked against {index}: "
            f"{len(report['outdated'])} have newer versions"
        ]
        for row in report["outdated"]:
            lines.append(
                f"  {row['name']} {row['version']} -> {row['latest']} "
                f"({row['file']}:{row['line']}; installed {row['installed']})"
            )
        for row in report["pins"]:
            if row["status"] == "current" and row["installed"] != row["version"]:
                lines.append(
                    f"  note: {row['name']} is pinned at {row['version']} but "
                    f"{row['installed']} is installed here"
                )
        for row in report["unchecked"]:
            lines.append(
                f"  unchecked: {row['name']} ({row['file']}:{row['line']}) is not "
                f"installed in this environment"
            )
        if report["outdated"]:
            lines.append(
                "to move a pin: python manage.py update_requirements --package NAME==VERSION"
            )
        self.emit(options, report, lines)
        if report["unchecked"]:
            names = ", ".join(row["name"] for row in report["unchecked"])
            raise CommandError(
                f"could not check {len(report['unchecked'])} pins, not installed here: {names}"
            )
