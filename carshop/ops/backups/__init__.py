"""Backups operators can rely on: full, incremental and pre-update backups, verified restores and
recovery drills, on SQLite and PostgreSQL. See docs/backups.md.

Layout:
- `introspect`: the tables of a database, found by introspection (never a hard-coded list);
- `capture`: the change log and its triggers that make incremental backups see every change,
  including raw SQL;
- `postgres`, `sqlite`: the engine-specific dump, incremental, checksum and restore code;
- `manifest`, `destination`: what a backup is and where it lives;
- `service`: backup, restore, recovery drill and retention, which the commands call;
- `status`: the last backup and the recovery metrics, for the health check and reports;
- `retention`: which backups to keep across every folder backups are written to (prune_backups);
- `recovery`: the recovery metrics history kept honest (record_recovery_metrics, test_recovery).
- `pgbackrest`: the pgBackRest engine (BACKUP_ENGINE=pgbackrest): physical backups, WAL
  archiving, restores to a moment, its drills, retention and archiving health;
- `archiving_cluster`: a PostgreSQL cluster of its own that archives with pgBackRest, for the
  tests and the bench.

The app keeps its label `backups` (INSTALLED_APPS: carshop.ops.backups).
"""
