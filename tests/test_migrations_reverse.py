"""Every migration reverses and applies again on a database with the demo data in it, and a
reverse that would drop rows stops, changing nothing, until the operator confirms with
CARSHOP_ALLOW_DATA_LOSS=1 (core.migration_operations.GuardDataLoss)."""

import io

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.db.migrations.loader import MigrationLoader
from django.db.migrations.operations import AddField, CreateModel

from core.migration_operations import ALLOW_DATA_LOSS, GuardDataLoss, plan_guards

APPS = ("sales", "repairs", "inventory", "accounts")  # the later layers first


def migrations_of(app):
    loader = MigrationLoader(None, ignore_no_migrations=True)
    return [
        name
        for label, name in loader.graph.forwards_plan(loader.graph.leaf_nodes(app)[0])
        if label == app
    ]


def reverse_target(app, names, index):
    """Where to migrate `app` back to so that names[index] is no longer applied: the migration
    before it in the plan, or, after two branches of the app's history were merged, the last
    one before it that it follows from (migrating to a sibling branch unapplies nothing)."""
    ancestors = MigrationLoader(None, ignore_no_migrations=True).graph.forwards_plan(
        (app, names[index])
    )
    for earlier in reversed(names[:index]):
        if (app, earlier) in ancestors:
            return earlier
    return "zero"


def applied():
    return set(MigrationLoader(connection).applied_migrations)


def at_risk(app, target):
    """What the guards of `migrate app target` would find, computed from the plan."""
    executor = MigrationExecutor(connection)
    plan = executor.migration_plan([(app, None if target == "zero" else target)])
    state = executor._create_project_state(with_applied_migrations=True)
    return [
        item
        for _app, _name, guard in plan_guards(plan, state.apps)
        for item in guard.data_at_risk(connection)
    ]


def migrate(*args):
    call_command("migrate", *args, "--noinput", verbosity=0, stdout=io.StringIO())


def rows(table):
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT COUNT(*) FROM {connection.ops.quote_name(table)}")  # noqa: S608
        return cursor.fetchone()[0]


@pytest.mark.django_db(transaction=True)
def test_each_migration_reverses_and_applies_again_with_the_demo_data(monkeypatch):
    # The demo of one shop: a group's records cannot go back to before locations (repairs 0011
    # refuses to mix two shops' number series).
    call_command("seed_demo", "--one-shop", stdout=io.StringIO())
    from sales.models import Lead

    Lead.objects.filter(pk=Lead.objects.order_by("pk").first().pk).update(message="Still there?")
    refused = []
    try:
        for app in APPS:
            names = migrations_of(app)
            for index in reversed(range(len(names))):
                target = reverse_target(app, names, index)
                monkeypatch.delenv(ALLOW_DATA_LOSS, raising=False)
                before = applied()
                if at_risk(app, target):
                    refunds = (
                        rows("sales_dealrefund")
                        if (app, names[index]) == ("sales", "0004_deal_refund")
                        else None
                    )
                    with pytest.raises(CommandError, match=r"would delete data: .*Nothing was"):
                        migrate(app, target)
                    assert applied() == before, f"{app} {target}: refused, yet changed"
                    if refunds is not None:
                        assert rows("sales_dealrefund") == refunds
                    refused.append((app, names[index]))
                    monkeypatch.setenv(ALLOW_DATA_LOSS, "1")
                migrate(app, target)
                assert (app, names[index]) not in applied(), f"{app} {target}"
        # Each app was taken back to zero with its own data still in it (the later layers first,
        # so reversing one app never reverses another's data away first). Forwards again:
        monkeypatch.delenv(ALLOW_DATA_LOSS, raising=False)
        migrate()
        assert (
            MigrationExecutor(connection).migration_plan(
                MigrationLoader(connection).graph.leaf_nodes()
            )
            == []
        )
    finally:
        monkeypatch.delenv(ALLOW_DATA_LOSS, raising=False)
        migrate()

    # The demo data has refunds, deals, repair orders, vehicles, users and shop settings.
    assert {
        ("sales", "0004_deal_refund"),
        ("sales", "0002_lead_partner"),
        ("sales", "0001_initial"),
        ("repairs", "0001_initial"),
        ("inventory", "0001_initial"),
        ("accounts", "0001_initial"),
    } <= set(refused)
    # Migrations that only add indexes or derived data drop nothing: no question asked.
    assert not {
        ("sales", "0003_deal_list_order_index"),
        ("accounts", "0002_roles_system_user_shop_settings"),
        ("inventory", "0004_search_trigram_indexes"),
        ("repairs", "0003_payment_reference_trigram"),
    } & set(refused)
    # Forwards again, the roles are applied as after any migrate.
    from django.contrib.auth.models import Group

    from accounts.roles import ROLES

    assert set(Group.objects.values_list("name", flat=True)) >= set(ROLES)
    assert Group.objects.get(name=next(iter(ROLES))).permissions.exists()


def test_every_table_a_migration_makes_is_guarded_by_that_migration():
    """A new migration that makes a table must end with GuardDataLoss naming it (and its
    many-to-many tables): its reverse would drop the table with its rows."""
    loader = MigrationLoader(None, ignore_no_migrations=True)
    missing = []
    for app in APPS:
        for name in migrations_of(app):
            migration = loader.graph.nodes[(app, name)]
            created = [op.name_lower for op in migration.operations if isinstance(op, CreateModel)]
            added_m2m = [
                (op.model_name_lower, op.name)
                for op in migration.operations
                if isinstance(op, AddField) and op.field.many_to_many
            ]
            if not created and not added_m2m:
                continue
            models = loader.project_state((app, name), at_end=True).apps
            tables = set()
            for model_name in created:
                model = models.get_model(app, model_name)
                tables.add(model._meta.db_table)
                tables |= {
                    f.remote_field.through._meta.db_table
                    for f in model._meta.local_many_to_many
                    if f.remote_field.through._meta.auto_created
                }
            for model_name, field in added_m2m:
                through = models.get_model(app, model_name)._meta.get_field(field)
                tables.add(through.remote_field.through._meta.db_table)
            guarded = {
                table
                for op in migration.operations
                if isinstance(op, GuardDataLoss)
                for table in op.tables
            }
            last = migration.operations[-1]
            if tables - guarded or not isinstance(last, GuardDataLoss):
                missing.append(f"{app}.{name}: {sorted(tables - guarded)}")
    assert missing == []


@pytest.mark.django_db(transaction=True)
def test_a_third_party_app_is_guarded_too(monkeypatch):
    """`migrate auditlog zero` would drop the audit log: its migrations have no GuardDataLoss,
    the tables their CreateModel made are guarded all the same."""
    from auditlog.models import LogEntry

    from accounts.models import Customer

    monkeypatch.delenv(ALLOW_DATA_LOSS, raising=False)
    Customer.objects.create(first_name="Audit", last_name="Trail")  # an audit entry
    entries, before = LogEntry.objects.count(), applied()
    assert entries

    with pytest.raises(CommandError, match=r"auditlog_logentry \(\d+ rows?\) \[auditlog\.0001"):
        migrate("auditlog", "zero")
    assert applied() == before
    assert LogEntry.objects.count() == entries
