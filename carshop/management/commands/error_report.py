from django.core.management.base import CommandError
from django.utils import timezone

from carshop.ops.logs.reading import add_log_arguments, exception_place, reader_for
from carshop.ops.toolkit import OperationsCommand


def group_errors(entries):
    """Errors grouped by (exception type, place): count, first and last seen, a request id."""
    groups = {}
    for entry in entries:
        if entry.get("outcome") == "failed" and entry.get("command"):
            # A failed manage.py run (carshop.audit): one group per command, whatever the reason.
            kind, place = "command failed", f"manage.py {entry['command']}"
        elif entry.get("exc_info"):
            kind, place = exception_place(entry["exc_info"])
        else:  # logged with logger.error(), no exception: the logger is the place
            kind, place = "(no exception)", entry.get("logger", "?")
        group = groups.setdefault(
            (kind, place),
            {
                "type": kind,
                "place": place,
                "count": 0,
                "first_seen": entry["time"],
                "last_seen": entry["time"],
                "request_id": None,
                "message": entry.get("message", ""),
            },
        )
        group["count"] += 1
        group["first_seen"] = min(group["first_seen"], entry["time"])
        group["last_seen"] = max(group["last_seen"], entry["time"])
        request_id = entry.get("request_id")
        if group["request_id"] is None and request_id and request_id != "-":
            group["request_id"] = request_id
    return sorted(groups.values(), key=lambda g: (-g["count"], -g["last_seen"].timestamp()))


class Command(OperationsCommand):
    help = (
        "Errors from error.log (rotated copies included) over a period, grouped by exception "
        "type and place (the last traceback frame, file:line): how often, first and last seen, "
        "and a request id to find the request in access.log and app.log.\n\n"
        "Example: python manage.py error_report --period=7d"
    )
    report_command = True

    def add_arguments(self, parser):
        super().add_arguments(parser)
        add_log_arguments(parser, "7d")
        parser.add_argument(
            "--top", type=int, default=20, help="groups shown, most frequent first (default 20)"
        )

    def handle(self, *args, **options):
        if options["top"] < 1:
            raise CommandError(f"--top must be 1 or more, got {options['top']}")
        reader, since = reader_for("error.log", options)
        groups = group_errors(self.progress(reader, label="reading error.log"))
        total = sum(group["count"] for group in groups)
        shown = groups[: options["top"]]
        lines = [
            f"errors since {timezone.localtime(since):%Y-%m-%d %H:%M}: {total} "
            f"in {len(groups)} groups"
        ]
        for group in shown:
            lines.append(
                f"{group['count']:>6}  {group['type']} at {group['place']}  "
                f"first {timezone.localtime(group['first_seen']):%Y-%m-%d %H:%M}, "
                f"last {timezone.localtime(group['last_seen']):%Y-%m-%d %H:%M}, "
                f"request {group['request_id'] or '-'}"
            )
            if group["message"]:
                lines.append(f"        {group['message'][:120]}")
        lines.append(reader.summary_line())
        self.emit(
            options,
            {
                "since": since,
                "errors": total,
                "group_count": len(groups),
                "groups": shown,
                "error_log": reader.summary(),
            },
            lines,
        )
