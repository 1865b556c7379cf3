"""Data cleanup: temporary data, orphans and audit archives (VACUUM: carshop.ops.database.vacuum).

What each command may delete, and why the rest is kept:

- temporary data (`prune_temp_data`): machine records that only matter for a while — expired
  sessions, webhook events whose deliveries are all finished, Idempotency-Keys, finished task
  results, old login attempts — and leftover temporary files. Of the business's own records only
  draft deals qualify: untouched for the whole age, with no payment, commission or trade-in. Repair
  orders are never deleted (their numbers are a gapless series and "Orders are canceled, never
  deleted"): stale estimates are only reported, to be canceled by a person.
- orphans (`cleanup_orphans`): rows and files whose parent is gone where no foreign key keeps
  them consistent — uploaded files no row names, sessions of deleted users, queued webhook tasks
  of deleted deliveries. Audit entries of deleted objects are history, not orphans: they stay
  (`archive_logs` moves old ones out of the database into verified files).
- `archive_logs`: audit entries older than the age go to a gzip JSON lines file with a SHA-256
  sidecar and a manifest; they are deleted only after the file is written, fsynced, read back and
  verified, in one transaction, so any failure leaves the database as it was.
- `vacuum_database`: VACUUM / ANALYZE on PostgreSQL (per table, outside a transaction) and SQLite
  (the whole file), with the sizes before and after.

Commands call these functions; they report what they did as plain data (dicts and lists) that the
commands print as text or JSON.
"""
