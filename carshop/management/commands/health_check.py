import asyncio

from django.core.management.base import CommandError

from carshop.commands import OperationsCommand
from carshop.health import HEALTH_CHECKS


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
        self.emit(options, {"healthy": all(r["ok"] for r in data), "checks": data}, [
            f"{r['check']:<12} {'OK' if r['ok'] else 'FAIL: ' + r['error']}" for r in data
        ])
        failed = [r["check"] for r in data if not r["ok"]]
        if failed:
            raise CommandError(f"unhealthy: {', '.join(failed)}")
