from carshop.ops.cache.analysis import analyze_cache
from carshop.ops.toolkit import OperationsCommand, emit_report


class Command(OperationsCommand):
    help = (
        "Hit rate and use of the configured cache (CACHES, from CACHE_URL). Redis: the server's "
        "hits, misses, memory, evictions and keys per database (INFO), and the app's keys "
        "(KEY_PREFIX:VERSION:) by kind, with stale ones. locmem, database, file and dummy "
        "caches: what a separate process can know, and what it cannot. Exits non-zero when the "
        "cache does not answer.\n\n"
        "Example: python manage.py analyze_cache --format json"
    )
    report_command = True

    def add_arguments(self, parser):
        super().add_arguments(parser)
        parser.add_argument(
            "--cache", default="default", help="cache alias of CACHES (default: default)"
        )

    def handle(self, *args, **options):
        report = analyze_cache(options["cache"], progress=self.progress)
        data = report.data
        extra = [
            f"backend {data['backend']} ({data['location']}), key prefix "
            f"{data['key_prefix']!r}, version {data['version']}"
        ]
        emit_report(self, options, report, extra)
