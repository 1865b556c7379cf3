"""Migration operations every app's migrations use. Kept in accounts, the bottom layer.

- What only PostgreSQL has (trigram indexes for "contains" searches). On SQLite they do nothing:
  the searches still work there, by scanning, which is fine at the size an embedded database
  holds.
- CheckExistingRows: a constraint added over existing data names the rows it would refuse.
- GuardDataLoss: migrating back never drops tables or columns holding data unless the operator
  confirmed it (CARSHOP_ALLOW_DATA_LOSS=1) after a backup.
"""

import logging
import os

from django.core.management.base import CommandError
from django.db import DEFAULT_DB_ALIAS, connections, migrations, models
from django.db.migrations.operations.base import Operation

logger = logging.getLogger("carshop.migrations")


class PostgreSQLOnlySQL(migrations.RunSQL):
    """RunSQL that runs on PostgreSQL and is a no-op on any other database."""

    def database_forwards(self, app_label, schema_editor, from_state, to_state):
        if schema_editor.connection.vendor == "postgresql":
            super().database_forwards(app_label, schema_editor, from_state, to_state)

    def database_backwards(self, app_label, schema_editor, from_state, to_state):
        if schema_editor.connection.vendor == "postgresql":
            super().database_backwards(app_label, schema_editor, from_state, to_state)

    def describe(self):
        return f"{super().describe()} (PostgreSQL only)"


def trigram_extension():
    """pg_trgm, which "contains" indexes need (trusted: a database owner may create it). It is
    left in place when migrating back: other indexes may use it."""
    return PostgreSQLOnlySQL(
        "CREATE EXTENSION IF NOT EXISTS pg_trgm", reverse_sql=migrations.RunSQL.noop
    )


class TrigramIndexSQL(PostgreSQLOnlySQL):
    """The RunSQL of trigram_index, which keeps the index's name, table and expression so that
    `analyze_indexes` and `create_indexes` can tell whether the database still has it."""

    def __init__(self, name, table, expression, **kwargs):
        self.index_name, self.table, self.expression = name, table, expression
        super().__init__(**kwargs)

    def create_sql(self, concurrently=False):
        how = "CONCURRENTLY " if concurrently else ""
        return (
            f"CREATE INDEX {how}IF NOT EXISTS {self.index_name} ON {self.table} "
            f"USING gin (({self.expression}) gin_trgm_ops)"
        )


def trigram_index(name, table, expression):
    """A GIN trigram index, so `LIKE '%words%'` on `expression` is an index scan. For Django's
    icontains the expression is UPPER("column"), which is what the lookup compares."""
    return TrigramIndexSQL(
        name,
        table,
        expression,
        sql=f"CREATE INDEX IF NOT EXISTS {name} ON {table} USING gin (({expression}) gin_trgm_ops)",
        reverse_sql=f"DROP INDEX IF EXISTS {name}",
    )


class CheckExistingRows(migrations.AddConstraint):
    """AddConstraint that first looks for rows the new constraint would refuse (a CHECK's
    condition false, or rows a unique constraint would find twice), and if it finds any, stops
    with a message that names the table, the rule and the first ids: fix those rows (or restore
    them from a backup), then migrate again. Without it the database stops the migration with a
    bare "constraint violated". Nothing is changed when it stops.
    """

    def _refused(self, model, alias):
        rows = model._default_manager.using(alias)
        constraint = self.constraint
        if isinstance(constraint, models.UniqueConstraint):
            if constraint.condition is not None:
                rows = rows.filter(constraint.condition)
            fields = list(constraint.fields)
            twice = (
                rows.order_by()
                .values(*fields)
                .annotate(count=models.Count("pk"))
                .filter(count__gt=1)
                .values(*fields)
            )
            taken = models.Q()
            for values in twice[:10]:
                taken |= models.Q(**values)
            return rows.filter(taken) if taken else rows.none()
        return rows.exclude(constraint.condition)

    def database_forwards(self, app_label, schema_editor, from_state, to_state):
        model = from_state.apps.get_model(app_label, self.model_name)
        refused = self._refused(model, schema_editor.connection.alias)
        ids = list(refused.order_by("pk").values_list("pk", flat=True)[:11])
        if ids:
            shown = ", ".join(map(str, ids[:10])) + (", ..." if len(ids) > 10 else "")
            raise ValueError(
                f"{model._meta.label_lower} rows break {self.constraint.name} "
                f"({self.constraint.violation_error_message}): ids {shown}. Correct them, then "
                "migrate again."
            )
        super().database_forwards(app_label, schema_editor, from_state, to_state)


# --- migrating back without losing data ---------------------------------------------------------

ALLOW_DATA_LOSS = "CARSHOP_ALLOW_DATA_LOSS"


def data_loss_allowed():
    return os.environ.get(ALLOW_DATA_LOSS, "").strip() == "1"


class DataLossRefused(CommandError):
    """`migrate` back would drop tables or columns that hold data, and nobody confirmed it."""


class GuardDataLoss(Operation):
    """The last operation of a migration whose reverse drops data: migrating back over it stops
    while `tables` hold rows (or `columns`, {table: [column, ...]}, hold values), unless the
    operator sets CARSHOP_ALLOW_DATA_LOSS=1 after taking a backup. Forwards it does nothing and
    it changes no model state, so adding it to a migration that was already applied is safe:
    applied migrations are never run again, and `makemigrations` sees no change.

    Being last, it is the first operation reversed, before anything is dropped. `migrate` also
    checks every guard of its whole plan before it starts (`refuse_data_loss_before_migrate`), so
    a refused `migrate APP zero` leaves every migration applied, not half of them."""

    reversible = True
    reduces_to_sql = False
    elidable = False

    def __init__(self, tables=(), columns=None):
        self.tables = list(tables)
        self.columns = {table: list(names) for table, names in (columns or {}).items()}

    def deconstruct(self):
        kwargs = {"tables": self.tables}
        if self.columns:
            kwargs["columns"] = self.columns
        return (self.__class__.__qualname__, [], kwargs)

    def state_forwards(self, app_label, state):
        pass

    def database_forwards(self, app_label, schema_editor, from_state, to_state):
        pass

    def database_backwards(self, app_label, schema_editor, from_state, to_state):
        refuse_data_loss(schema_editor.connection, [(app_label, None, self)])

    def describe(self):
        return (
            f"Refuse to migrate back while {', '.join(self.tables + list(self.columns))} "
            f"hold data, unless {ALLOW_DATA_LOSS}=1"
        )

    def data_at_risk(self, connection):
        """["table (N rows)", "table.column (N values)"] of what reversing would delete."""
        found = []
        with connection.cursor() as cursor:
            existing = set(connection.introspection.table_names(cursor))
            qn = connection.ops.quote_name
            for table in self.tables:
                if table in existing:
                    cursor.execute(f"SELECT COUNT(*) FROM {qn(table)}")  # noqa: S608 - names
                    rows = cursor.fetchone()[0]
                    if rows:
                        found.append(f"{table} ({rows} row{'' if rows == 1 else 's'})")
            for table, names in self.columns.items():
                if table not in existing:
                    continue
                present = {
                    c.name for c in connection.introspection.get_table_description(cursor, table)
                }
                for column in names:
                    if column not in present:
                        continue
                    cursor.execute(
                        f"SELECT COUNT(*) FROM {qn(table)} WHERE {qn(column)} IS NOT NULL "  # noqa: S608
                        f"AND CAST({qn(column)} AS TEXT) <> ''"
                    )
                    values = cursor.fetchone()[0]
                    if values:
                        found.append(
                            f"{table}.{column} ({values} value{'' if values == 1 else 's'})"
                        )
        return found


def refuse_data_loss(connection, guards):
    """Raise DataLossRefused naming what reversing the (app_label, migration name, guard)s
    would delete, unless CARSHOP_ALLOW_DATA_LOSS=1 (then log it as a warning and go on)."""
    at_risk = []
    for app_label, name, guard in guards:
        where = f" [{app_label}.{name}]" if name else ""
        at_risk += [item + where for item in guard.data_at_risk(connection)]
    if not at_risk:
        return
    if data_loss_allowed():
        logger.warning(
            "migrating back deletes data (%s=1)", ALLOW_DATA_LOSS, extra={"data": at_risk}
        )
        return
    raise DataLossRefused(
        f"migrating back would delete data: {', '.join(at_risk)}. Nothing was changed. Take a "
        f"backup first (manage.py backup --type=pre-update), then run again with "
        f"{ALLOW_DATA_LOSS}=1, or restore the pre-update backup instead of migrating back "
        "(docs/operations.md, Rolling back a release)"
    )


def plan_guards(plan, apps):
    """(app_label, migration name, guard) of every migration `plan` reverses. A migration
    without a GuardDataLoss of its own (Django's and other third-party apps': auth, sessions,
    the audit log) is guarded on the tables its CreateModel operations made, as `apps` (the
    state before the plan) names them."""
    guards = []
    for migration, backwards in plan or []:
        if not backwards:
            continue
        own = [op for op in migration.operations if isinstance(op, GuardDataLoss)]
        if not own and apps is not None:
            tables = []
            for operation in migration.operations:
                if not isinstance(operation, migrations.CreateModel):
                    continue
                try:
                    model = apps.get_model(migration.app_label, operation.name)
                except LookupError:  # deleted or renamed by a later migration
                    continue
                tables.append(model._meta.db_table)
                tables += [
                    field.remote_field.through._meta.db_table
                    for field in model._meta.local_many_to_many
                    if field.remote_field.through._meta.auto_created
                ]
            own = [GuardDataLoss(tables=tables)] if tables else []
        guards += [(migration.app_label, migration.name, guard) for guard in own]
    return guards


def refuse_data_loss_before_migrate(sender, plan=None, apps=None, using=DEFAULT_DB_ALIAS, **kwargs):
    """pre_migrate receiver: check every guard of the migrations `migrate` is about to reverse,
    before the first one is."""
    guards = plan_guards(plan, apps)
    if guards:
        refuse_data_loss(connections[using], guards)
