from django.core.management.base import CommandError
from django.utils import timezone

from carshop.ops.logs.reading import (
    add_log_arguments,
    endpoint_table,
    reader_for,
    request_statistics,
)
from carshop.ops.toolkit import OperationsCommand


class Command(OperationsCommand):
    help = (
        "Request statistics from access.log (rotated copies included) over a period: request "
        "count, status code classes, and per endpoint (method and path with ids replaced by "
        "{id}) the count, server errors and latency percentiles p50/p95/p99.\n\n"
        "Example: python manage.py analyze_logs --period=24h --top 10"
    )
    report_command = True

    def add_arguments(self, parser):
        super().add_arguments(parser)
        add_log_arguments(parser, "24h")
        parser.add_argument(
            "--top", type=int, default=20, help="endpoints shown, busiest first (default 20)"
        )

    def handle(self, *args, **options):
        if options["top"] < 1:
            raise CommandError(f"--top must be 1 or more, got {options['top']}")
        reader, since = reader_for("access.log", options)
        stats = request_statistics(self.progress(reader, label="reading access.log"))
        endpoints = stats["endpoints"][: options["top"]]
        latency = stats["latency"]
        classes = ", ".join(f"{klass} {count}" for klass, count in stats["status_classes"].items())
        lines = [
            f"requests since {timezone.localtime(since):%Y-%m-%d %H:%M}: {stats['requests']}",
            f"status: {classes or 'none'}",
        ]
        if stats["requests"]:
            lines.append(
                f"latency: p50 {latency['p50_ms']} ms, p95 {latency['p95_ms']} ms, "
                f"p99 {latency['p99_ms']} ms, max {latency['max_ms']} ms"
            )
            lines.append(f"endpoints ({len(endpoints)} of {len(stats['endpoints'])}):")
            lines.extend(endpoint_table(endpoints))
        lines.append(reader.summary_line())
        self.emit(
            options,
            {
                "since": since,
                "requests": stats["requests"],
                "status_classes": stats["status_classes"],
                "latency": latency,
                "endpoints": endpoints,
                "endpoint_count": len(stats["endpoints"]),
                "access_log": reader.summary(),
            },
            lines,
        )
