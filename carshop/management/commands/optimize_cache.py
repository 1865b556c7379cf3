from carshop.ops.cache.analysis import optimize_cache
from carshop.ops.toolkit import OperationsCommand


class Command(OperationsCommand):
    help = (
        "Warm what the application caches and clear what is stale. Stale: on Redis, keys of "
        "the app's KEY_PREFIX under another VERSION, and keys of the app's kinds that would "
        "never expire; on a database cache, expired rows. Only the app's own keys are ever "
        "deleted: a shared Redis database is never flushed. Without --warm or --clear-stale, "
        "does both. Carshop caches no data ahead of requests (rate-limit counters and health "
        "probes only), so warming reports why each kind is not warmed.\n\n"
        "Example: python manage.py optimize_cache --clear-stale --dry-run"
    )
    report_command = True
    changes_data = True

    def add_arguments(self, parser):
        super().add_arguments(parser)
        parser.add_argument(
            "--warm", action="store_true", help="fill what the application caches ahead of requests"
        )
        parser.add_argument(
            "--clear-stale",
            action="store_true",
            help="delete the app's stale keys (other versions, no timeout)",
        )
        parser.add_argument(
            "--cache", default="default", help="cache alias of CACHES (default: default)"
        )

    def handle(self, *args, **options):
        warm, clear = options["warm"], options["clear_stale"]
        if not warm and not clear:
            warm = clear = True
        result = optimize_cache(
            options["cache"],
            warm=warm,
            clear_stale=clear,
            dry_run=options["dry_run"],
            progress=self.progress,
        )
        lines = [
            f"cache {result['alias']}: {result['backend']}, key prefix "
            f"{result['key_prefix']!r}, version {result['version']}"
        ]
        for action in result["warm"] or []:
            lines.append(f"  {action['action']:<10}  {action['family']:<13} {action['note']}")
        stale = result["clear_stale"]
        if stale is not None:
            reasons = ", ".join(f"{reason} {count}" for reason, count in stale["reasons"].items())
            verb = "would delete" if result["dry_run"] else "deleted"
            count = stale["stale"] if result["dry_run"] else stale["deleted"]
            lines.append(f"  {verb} {count} stale keys" + (f" ({reasons})" if reasons else ""))
            lines.append(f"  {stale['note']}")
        lines.extend(f"  {note}" for note in result["notes"])
        if result["dry_run"]:
            lines.append("dry run, nothing changed")
        self.emit(options, result, lines)
