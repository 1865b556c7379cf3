import asyncio
import contextlib
import logging

from django.core.management.base import CommandError

from carshop.health import HEALTH_CHECKS
from carshop.ops.toolkit import OperationsCommand


class Command(OperationsCommand):
    help = (
        "Run the health checks of /health/ in this process (database, cache, storage, disk space, "
        "log folder) and exit non-zero if any fails.\n\n"
        "Example: python manage.py health_check --format json"
    )
    report_command = True

    def handle(self, *args, **options):
        from health_check.views import HealthCheckView

        view = HealthCheckView(checks=HEALTH_CHECKS)

        async def run_all():
            return await asyncio.gather(*(check.get_result() for check in view.get_checks()))

        # A failing check is one line of the summary below; its traceback still goes to the
        # log files, not to the terminal ahead of the summary.
        with _quiet_console("health_check"):
            results = asyncio.run(run_all())
        data = [
            {
                "check": type(result.check).__name__,
                "ok": result.error is None,
                "error": str(result.error) if result.error else None,
                "seconds": round(result.time_taken, 4),
            }
            for result in results
        ]
        self.emit(
            options,
            {"healthy": all(r["ok"] for r in data), "checks": data},
            [f"{r['check']:<12} {'OK' if r['ok'] else 'FAIL: ' + r['error']}" for r in data],
        )
        failed = [r["check"] for r in data if not r["ok"]]
        if failed:
            raise CommandError(f"unhealthy: {', '.join(failed)}")


class _DropFrom(logging.Filter):
    def __init__(self, name):
        super().__init__()
        self.prefix = name

    def filter(self, record):
        return not (record.name == self.prefix or record.name.startswith(self.prefix + "."))


@contextlib.contextmanager
def _quiet_console(logger_name):
    """Keep `logger_name`'s records off the console handlers (the files still get them)."""
    handlers = []
    logger = logging.getLogger(logger_name)
    while logger is not None:
        handlers += [
            h
            for h in logger.handlers
            if isinstance(h, logging.StreamHandler) and not isinstance(h, logging.FileHandler)
        ]
        logger = logger.parent if logger.propagate else None
    quiet = _DropFrom(logger_name)
    for handler in handlers:
        handler.addFilter(quiet)
    try:
        yield
    finally:
        for handler in handlers:
            handler.removeFilter(quiet)
