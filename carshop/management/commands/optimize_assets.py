from carshop.ops.assets.static import optimize_assets
from carshop.ops.toolkit import OperationsCommand, human_size


class Command(OperationsCommand):
    help = (
        "Collect the static files into STATIC_ROOT with the configured storage (collectstatic; "
        "on servers whitenoise's CompressedManifestStaticFilesStorage: hashed names, gzip and, "
        "with Brotli installed, brotli copies), then report the files, their size and what "
        "compression saves. A STATIC_ROOT that cannot be written is refused in one line. "
        "--dry-run lists what the finders offer and writes nothing.\n\n"
        "Example: python manage.py optimize_assets --format json"
    )
    report_command = True
    changes_data = True

    def handle(self, *args, **options):
        result = optimize_assets(dry_run=options["dry_run"])
        lines = [f"static files: {result['storage']} into {result['static_root']}"]
        if result["dry_run"]:
            lines.append(
                f"  {result['source_files']} files to collect, {human_size(result['source_bytes'])}"
            )
        else:
            lines.append(
                f"  collected: {result['copied']} copied, {result['unchanged']} "
                f"unchanged, {result['post_processed']} post-processed "
                f"in {result['seconds']} s"
            )
            lines.append(
                f"  {result['files']} files, {human_size(result['bytes'])}"
                + (
                    f" (and {result['hashed_copies']} copies with hashed names)"
                    if result["hashed_copies"]
                    else ""
                )
            )
            for label, entry in result["compressed"].items():
                if entry["files"]:
                    lines.append(
                        f"  {label}: {entry['files']} files, "
                        f"{human_size(entry['original_bytes'])} -> "
                        f"{human_size(entry['bytes'])}, saves "
                        f"{human_size(entry['saved_bytes'])} "
                        f"({entry['saved_percent']}%)"
                    )
                else:
                    lines.append(f"  {label}: no compressed files")
        lines.extend(f"  note: {note}" for note in result["notes"])
        if result["dry_run"]:
            lines.append("dry run, nothing written")
        self.emit(options, result, lines)
