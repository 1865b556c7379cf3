"""create_test_env makes an anonymized copy of the live database (a file beside it on SQLite, a
new database on PostgreSQL) with the same rows and relations and none of the personal values;
test_in_isolation checks that copy and never the live database."""

import io
import json
import os
import re

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection

from accounts import services as account_services
from accounts.models import Customer, Partner, PartnerKey, User, WebhookSubscription
from carshop.ops.backups import postgres, testing
from carshop.ops.backups.service import Target
from carshop.ops.testenv import environment as testenv
from sales.models import Lead

pytestmark = pytest.mark.django_db(transaction=True)

# Anonymized or removed on purpose: their rows differ (or go) in the copy.
CHANGED_TABLES = {
    "django_session",
    "axes_accesslog",
    "axes_accessattempt",
    "axes_accessfailurelog",
    "axes_accessattemptexpiration",
}
# Tables whose every column is compared between the live database and the copy: no personal data.
UNCHANGED_TABLES = (
    "repairs_repairorder",
    "repairs_laborline",
    "sales_deal",
    "inventory_part",
    "inventory_stockmovement",
    "accounts_user_groups",
    "repairs_payment",
    # The group's locations and what ties records, staff and partners to them.
    "accounts_location",
    "accounts_shopsettings",
    "accounts_user_locations",
    "accounts_partner_locations",
    "inventory_partstock",
    "inventory_stocktransfer",
    "inventory_stocktransferline",
    "inventory_purchaseorder",
    "repairs_appointment",
    "repairs_documentsequence",
    "repairs_timeentry",
)


def copy_name(suffix="copy"):
    """A scratch target: a file in the test's folder (SQLite) or carshop_testenv_* (PostgreSQL)."""
    live = connection.settings_dict["NAME"]
    if connection.vendor == "postgresql":
        return f"carshop_testenv_{suffix}"
    return os.path.join(os.path.dirname(os.path.abspath(live)), f"testenv-{suffix}.sqlite3")


@pytest.fixture
def targets():
    made = []

    def name(suffix="copy"):
        made.append(copy_name(suffix))
        return made[-1]

    yield name
    live = Target.live()
    for value in made:
        target = live.with_name(value)
        if target.vendor == "postgresql":
            postgres.drop_database(target.settings, target.name)
        else:
            for path in (value, value + ".partial", value + "-journal", value + "-wal"):
                if os.path.exists(path):
                    os.remove(path)


@pytest.fixture
def shop():
    """The demo shop, plus people whose every detail is distinctive, in rows the demo leaves
    empty: a company with a tax id, a deleted customer (alive only in the audit log), a
    partner's contact, a webhook, a lead's message, a job authorized on the phone."""
    call_command("seed_demo", "--seed", "1", "--scale", "1", stdout=io.StringIO())
    Customer.objects.create(
        kind="company",
        company_name="Quackenbush Haulage Ltd",
        first_name="Zebediah",
        last_name="Quackenbush",
        email="zeb@quackenbush-haulage.test",
        phone="+44 20 7946 0321",
        phone_other="07700 900123",
        address_line="17 Wharf Lane",
        postal_code="QB1 7ZZ",
        tax_id="GB999888777",
        notes="Zebediah prefers calls after 5pm",
    )
    gone = Customer.objects.create(
        first_name="Philomena",
        last_name="Vandersloot",
        email="philomena@vandersloot.test",
        phone="0161 496 0999",
    )
    gone.delete()
    partner = Partner.objects.get(slug="metro-fleet-services")
    Partner.objects.filter(pk=partner.pk).update(
        contact_name="Ignatius Fotheringham",
        contact_email="ignatius@metrofleet.test",
        contact_phone="+1 312 555 0177",
    )
    WebhookSubscription.objects.create(
        partner=partner,
        url="https://hooks.metrofleet.test/in",
        secret="s3cr3t-webhook-key",
        events=["invoice.created"],
    )
    lead = Lead.objects.order_by("pk").first()
    Lead.objects.filter(pk=lead.pk).update(
        message="Call Zebediah on +44 20 7946 0321 please", notes="met Zebediah Quackenbush"
    )
    from repairs.models import Job

    job = Job.objects.order_by("pk").first()
    Job.objects.filter(pk=job.pk).update(authorized_by="Zebediah Quackenbush")
    account_services.issue_key(partner, name="nightly", scopes=["repairs:read"])


def personal_values():
    """Every personal value of the live database, to be looked for in the copy."""
    values = set()
    for c in Customer.objects.all():
        values |= {
            c.email,
            c.phone,
            c.phone_other,
            c.address_line,
            c.tax_id,
            c.display_name,
            f"{c.first_name} {c.last_name}",
            c.notes,
        }
        if c.kind == "company":
            values.add(c.company_name)
    for u in User.objects.exclude(username="system").exclude(username__startswith="partner:"):
        values |= {u.email, u.get_full_name(), u.phone}
    for p in Partner.objects.all():
        values |= {p.contact_name, p.contact_email, p.contact_phone}
    for s in WebhookSubscription.objects.all():
        values |= {s.url, s.secret}
    for lead in Lead.objects.exclude(message=""):
        values.add(lead.message)
    # The distinctive single words of the fixture, and the deleted customer.
    values |= {
        "Zebediah",
        "Quackenbush",
        "Philomena",
        "Vandersloot",
        "Fotheringham",
        "philomena@vandersloot.test",
        "0161 496 0999",
        "GB999888777",
    }
    return {v.strip() for v in values if v and len(v.strip()) >= 4}


def copy_contents(target):
    with testenv.opened(target) as alias:
        return testing.table_contents(alias)


def found_in(values, contents):
    text = "\n".join(repr(rows) for rows in contents.values())
    return sorted(v for v in values if re.search(r"(?<!\w)" + re.escape(v) + r"(?!\w)", text))


def create(*args):
    out = io.StringIO()
    call_command("create_test_env", *args, "--format=json", stdout=out)
    return json.loads(out.getvalue())


def test_the_copy_has_every_row_and_relation_and_no_personal_value(shop, targets):
    name = targets()
    secrets = personal_values()
    zeb_pk = Customer.objects.get(company_name="Quackenbush Haulage Ltd").pk
    live_before = testing.table_contents()

    report = create("--target", name, "--seed", "5")

    assert testing.table_contents() == live_before  # the live database is untouched
    target = Target.live().with_name(name)
    copy = copy_contents(target)
    assert found_in(secrets, copy) == []
    # Same tables and row counts (sessions and login attempts are not carried over), the mark.
    assert set(copy) == set(live_before) | {testenv.MARKER_TABLE}
    for table, rows in live_before.items():
        if table not in CHANGED_TABLES:
            assert len(copy[table]) == len(rows), table
    for table in UNCHANGED_TABLES:
        assert copy[table] == live_before[table], table
    with testenv.opened(target) as alias:
        live_customers = list(
            Customer.objects.order_by("pk").values_list(
                "pk", "kind", "city", "consent_reminders", "created_at"
            )
        )
        assert (
            list(
                Customer.objects.using(alias)
                .order_by("pk")
                .values_list("pk", "kind", "city", "consent_reminders", "created_at")
            )
            == live_customers
        )
        kept = ("pk", "username", "is_superuser", "home_location")
        live_users = list(User.objects.order_by("pk").values_list(*kept))
        assert list(User.objects.using(alias).order_by("pk").values_list(*kept)) == live_users
        assert len({home for *_, home in live_users}) > 1  # the demo's two shops
        assert not any(u.has_usable_password() for u in User.objects.using(alias))
        assert set(
            User.groups.through.objects.using(alias).values_list("user_id", "group_id")
        ) == set(User.groups.through.objects.values_list("user_id", "group_id"))
        keys = PartnerKey.objects.using(alias)
        assert keys.count() == PartnerKey.objects.count() >= 1
        assert all(key.revoked_at is not None for key in keys)
        assert all(".invalid/" in s.url for s in WebhookSubscription.objects.using(alias))
        zeb = Customer.objects.using(alias).get(pk=zeb_pk)
        assert zeb.tax_id.startswith("TEST-") and zeb.notes == ""
        assert zeb.display_name == zeb.company_name and zeb.phone_digits.startswith("1")
    assert report["anonymized"]["accounts_customer"] == Customer.objects.count()
    assert report["database_url"].endswith(os.path.basename(name))

    isolation = io.StringIO()
    call_command("test_in_isolation", "--target", name, "--format=json", stdout=isolation)
    result = json.loads(isolation.getvalue())
    assert result["passed"], result
    assert [c["check"] for c in result["checks"]] == ["system", "migrations", "health", "smoke"]
    smoke = next(c for c in result["checks"] if c["check"] == "smoke")
    assert any(item["page"] == "/admin/accounts/customer/" for item in smoke["items"])
    assert all(item["status"] == 200 for item in smoke["items"])


def test_the_same_seed_makes_the_same_copy_and_another_seed_another(targets):
    testing.seed()
    name = targets()
    target = Target.live().with_name(name)
    create("--target", name, "--seed", "11")
    first = copy_contents(target)
    create("--target", name, "--seed", "11", "--replace")
    again = copy_contents(target)
    create("--target", name, "--seed", "12", "--replace")
    other = copy_contents(target)

    for table in ("accounts_customer", "accounts_user", "inventory_vehicle"):
        assert again[table] == first[table], table
    assert other["accounts_customer"] != first["accounts_customer"]


def test_it_refuses_the_live_database_and_an_existing_target_without_replace(targets):
    testing.seed()
    live = connection.settings_dict["NAME"]
    with pytest.raises(CommandError, match="is the live database"):
        create("--target", live)
    name = targets()
    create("--target", name)
    made_at = testenv.read_marker(Target.live().with_name(name))["made_at"]
    with pytest.raises(CommandError, match="exists: add --replace"):
        create("--target", name)
    assert testenv.read_marker(Target.live().with_name(name))["made_at"] == made_at


def test_it_never_replaces_a_database_it_did_not_make(targets):
    testing.seed()
    name = targets("foreign")
    target = Target.live().with_name(name)
    if target.vendor == "postgresql":
        postgres.create_database(target.settings, name)
    else:
        import sqlite3

        sqlite3.connect(name).execute("CREATE TABLE precious (x int)").connection.commit()
    with pytest.raises(CommandError, match="was not made by create_test_env"):
        create("--target", name, "--replace")
    with pytest.raises(CommandError, match="was not made by create_test_env"):
        call_command("test_in_isolation", "--target", name, stdout=io.StringIO())
    assert testenv.exists(target)


def test_a_dry_run_makes_nothing(targets):
    testing.seed()
    name = targets()
    report = create("--target", name, "--dry-run")
    assert report["dry_run"] and report["anonymized"]["accounts_customer"] == 31
    assert not testenv.exists(Target.live().with_name(name))


def test_test_in_isolation_refuses_the_live_database_and_a_missing_copy(targets):
    live = connection.settings_dict["NAME"]
    with pytest.raises(CommandError, match="is the live database"):
        call_command("test_in_isolation", "--target", live, stdout=io.StringIO())
    with pytest.raises(CommandError, match="does not exist: run create_test_env first"):
        call_command("test_in_isolation", "--target", targets("missing"), stdout=io.StringIO())
    with pytest.raises(CommandError, match="unknown bogus"):
        call_command("test_in_isolation", "--checks", "bogus", stdout=io.StringIO())


def test_the_checks_refuse_to_run_inside_the_live_database():
    # --inside-copy is what test_in_isolation's child process runs; given the live database it
    # stops before any check.
    os.environ[testenv.LIVE_IDENTITY_ENV] = json.dumps(list(Target.live().identity()))
    try:
        with pytest.raises(CommandError, match="the configured database is the live database"):
            call_command("test_in_isolation", "--inside-copy", stdout=io.StringIO())
    finally:
        os.environ.pop(testenv.LIVE_IDENTITY_ENV)


def test_pytest_runs_with_the_copy_as_database(targets):
    testing.seed()
    name = targets()
    create("--target", name)
    out = io.StringIO()
    call_command(
        "test_in_isolation",
        "--target",
        name,
        "--checks",
        "migrations",
        "--format=json",
        "--",
        "--collect-only",
        "-q",
        "tests/test_vin.py",
        stdout=out,
    )
    result = json.loads(out.getvalue())
    pytest_run = result["checks"][-1]
    assert pytest_run["check"] == "pytest" and pytest_run["ok"]
    assert "tests collected" in pytest_run["detail"] or "test" in pytest_run["detail"]


@pytest.mark.postgresql
def test_another_host_name_for_the_live_server_is_still_the_live_database():
    s = connection.settings_dict
    host = "localhost" if (s.get("HOST") or "") != "localhost" else "127.0.0.1"
    url = f"postgres://{s['USER']}@{host}:{s.get('PORT') or 5432}/{s['NAME']}"
    with pytest.raises(CommandError, match="is the live database"):
        create("--target", url)
    with pytest.raises(CommandError, match="is the live database"):
        call_command("test_in_isolation", "--target", url, stdout=io.StringIO())
