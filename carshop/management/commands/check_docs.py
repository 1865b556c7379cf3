from carshop.ops.docs.check import check_docs
from carshop.ops.toolkit import OperationsCommand, emit_report


class Command(OperationsCommand):
    help = (
        "Check README.md and docs/**/*.md: relative links to files and #anchors that do not "
        "exist, commands documented but missing from manage.py, options shown with a command "
        "that its parser does not take, the project's commands documented nowhere, and the "
        "variables of docs/configuration.md against .env.example "
        "and the settings. External http(s) links are listed, fetched only with --online. "
        "Exits non-zero on a broken link, a documented command that does not exist or an option "
        "it does not take.\n\n"
        "Example: python manage.py check_docs --format json"
    )
    report_command = True

    def add_arguments(self, parser):
        super().add_arguments(parser)
        parser.add_argument(
            "--online", action="store_true", help="also fetch the external http(s) links"
        )
        parser.add_argument(
            "--root", metavar="DIR", help="the checkout to check (default: the project's)"
        )

    def handle(self, *args, **options):
        report = check_docs(options["root"], online=options["online"])
        external = report.data.get("external_links") or []
        extra = []
        if external and not options["online"]:
            extra.append(f"{len(external)} external links, not fetched (--online fetches them):")
            extra.extend(f"  {item['place']}: {item['url']}" for item in external)
        emit_report(self, options, report, extra)
