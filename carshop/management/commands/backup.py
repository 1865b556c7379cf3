from carshop.ops.backups import destination as destinations
from carshop.ops.backups import pgbackrest, retention, service
from carshop.ops.toolkit import (
    OperationsCommand,
    bool_value,
    human_size,
    operator_errors,
)


class Command(OperationsCommand):
    help = (
        "Back up the database (PostgreSQL or SQLite) with a manifest of what it holds: type, "
        "parent, time, engine, app version, applied migrations, row count and checksum of every "
        "table, and the file's SHA-256.\n"
        "  full: a complete dump (pg_dump custom format; SQLite's online backup API).\n"
        "  incremental: only the rows inserted, updated or deleted since the previous backup "
        "(ORM or raw SQL alike); becomes a full backup, and says why, when the chain cannot be "
        "continued (first backup, migrations ran, a restore happened).\n"
        "  pre-update: a full backup tagged for the deploy script; rollback restores it with "
        "`restore --source latest-pre-update`.\n"
        "--destination defaults to BACKUP_DIR (or the storage configured as "
        'STORAGES["dbbackup"]). --clean then applies the retention policy (see prune_backups).'
        "\n\nExamples:\n"
        "  python manage.py backup --type=full\n"
        "  python manage.py backup --type=incremental --destination=/backup/daily\n"
        "  python manage.py backup --type=full --compress=true --destination=/backup/monthly\n"
        "With BACKUP_ENGINE=pgbackrest (PostgreSQL): a pgBackRest backup of the stanza instead, "
        "full, incremental (incr) or pre-update (a differential), while PostgreSQL archives its "
        "WAL continuously; --destination and --compress are pgBackRest's configuration's, and "
        "--clean runs `pgbackrest expire`."
    )
    changes_data = True
    report_command = True

    def add_arguments(self, parser):
        super().add_arguments(parser)
        parser.add_argument(
            "--type",
            choices=service.TYPES,
            default="full",
            help="full (default), incremental or pre-update",
        )
        parser.add_argument(
            "--compress",
            nargs="?",
            const=True,
            default=False,
            type=bool_value,
            help="compress the backup (gzip; pg_dump at level 9)",
        )
        parser.add_argument(
            "--destination", metavar="DIR", help="folder to write to (default: BACKUP_DIR)"
        )
        parser.add_argument(
            "--clean",
            action="store_true",
            help="afterwards, delete backups the retention policy no longer keeps",
        )

    def handle(self, *args, **options):
        with operator_errors():
            if pgbackrest.selected():
                return self._pgbackrest(options)
            destination = destinations.destination_for(options["destination"])
            manifest = service.create_backup(
                options["type"],
                destination,
                compress=options["compress"],
                dry_run=options["dry_run"],
                progress=self.progress,
            )
            pruned = None
            if options["clean"]:
                # The whole tree: a scheduled run's folder (daily/YYYYMMDD) holds one backup.
                pruned = retention.prune(
                    retention.tree_root(destination), dry_run=options["dry_run"]
                )
        if options["dry_run"]:
            lines = [
                f"would write a {manifest['kind']} backup ({manifest['type']}) to "
                f"{manifest['destination']}"
            ]
            if manifest.get("promoted_reason"):
                lines.append(f"  full because: {manifest['promoted_reason']}")
            if manifest.get("parent"):
                lines.append(f"  after: {manifest['parent']}")
            self.emit(options, {"backup": manifest, "prune": pruned}, lines)
            return
        rows = sum(t["rows"] for t in manifest["tables"].values())
        lines = [
            f"{manifest['id']}: {manifest['kind']} backup of {len(manifest['tables'])} tables "
            f"({rows} rows), {human_size(manifest['file']['size'])}, "
            f"{manifest['duration_seconds']:.1f}s",
            f"  file: {destination.label}/{manifest['file']['name']}",
            f"  sha256: {manifest['file']['sha256']}",
        ]
        if manifest.get("promoted_reason"):
            loud = "WARNING: " if "bypassed change capture" in manifest["promoted_reason"] else ""
            lines.append(
                f"  {loud}full instead of {manifest['requested_type']}: "
                f"{manifest['promoted_reason']}"
            )
            if loud:
                self.stderr.write(f"WARNING: {manifest['promoted_reason']}")
        if manifest.get("parent"):
            lines.append(
                f"  after {manifest['parent']} ({len(manifest['changed_tables'])} tables changed)"
            )
        if pruned:
            lines.append(
                f"  retention: {len(pruned['deleted'])} backups deleted, {len(pruned['kept'])} kept"
            )
        self.emit(options, {"backup": manifest, "prune": pruned}, lines)

    def _pgbackrest(self, options):
        if options["dry_run"]:
            lines = [f"would take a pgBackRest {pgbackrest.KIND[options['type']]} backup"]
            self.emit(options, {"backup": {"type": options["type"]}, "prune": None}, lines)
            return
        report = pgbackrest.create_backup(options["type"], progress=self.progress)
        pruned = pgbackrest.prune() if options["clean"] else None
        lines = [
            f"{report['id']}: pgBackRest {report['kind']} backup ({report['type']}), "
            f"{human_size(report['size'])} stored of {human_size(report['database_size'])}, "
            f"{report['duration_seconds']:.1f}s",
            f"  stanza: {report['stanza']}; "
            f"WAL {report['wal']['start']} to {report['wal']['stop']}",
        ]
        if report["parent"]:
            lines.append(f"  after {report['parent']}")
        if pruned:
            lines.append(
                f"  retention: {len(pruned['deleted'])} backups expired, {len(pruned['kept'])} kept"
            )
        self.emit(options, {"backup": report, "prune": pruned}, lines)
