"""Migration operations for what only PostgreSQL has (trigram indexes for "contains" searches).

On SQLite they do nothing: the searches still work there, by scanning, which is fine at the size
an embedded database holds. Kept in accounts, the bottom layer, so every app's migrations can
use them.
"""

from django.db import migrations, models


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
    return PostgreSQLOnlySQL("CREATE EXTENSION IF NOT EXISTS pg_trgm",
                             reverse_sql=migrations.RunSQL.noop)


class TrigramIndexSQL(PostgreSQLOnlySQL):
    """The RunSQL of trigram_index, which keeps the index's name, table and expression so that
    `analyze_indexes` and `create_indexes` can tell whether the database still has it."""

    def __init__(self, name, table, expression, **kwargs):
        self.index_name, self.table, self.expression = name, table, expression
        super().__init__(**kwargs)

    def create_sql(self, concurrently=False):
        how = "CONCURRENTLY " if concurrently else ""
        return (f"CREATE INDEX {how}IF NOT EXISTS {self.index_name} ON {self.table} "
                f"USING gin (({self.expression}) gin_trgm_ops)")


def trigram_index(name, table, expression):
    """A GIN trigram index, so `LIKE '%words%'` on `expression` is an index scan. For Django's
    icontains the expression is UPPER("column"), which is what the lookup compares."""
    return TrigramIndexSQL(
        name, table, expression,
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
            twice = (rows.order_by().values(*fields).annotate(count=models.Count("pk"))
                     .filter(count__gt=1).values(*fields))
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
                "migrate again.")
        super().database_forwards(app_label, schema_editor, from_state, to_state)
