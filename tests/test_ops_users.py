"""User access commands: list_users, inactive_users, disable_users, reset_password,
user_activity."""

import io
import threading
import time
from datetime import timedelta

import pytest
from auditlog.context import set_actor
from auditlog.models import LogEntry
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection, transaction
from django.utils import timezone

from accounts import roles
from accounts.models import Customer, User
from tests.helpers.commands import run, run_json
from tests.helpers.logs import ago, line, write_log


def set_last_login(user, days_ago):
    """Move a user's last login back (a queryset update, as a login long ago would have left)."""
    User.objects.filter(pk=user.pk).update(last_login=timezone.now() - timedelta(days=days_ago))


def set_joined(user, days_ago):
    User.objects.filter(pk=user.pk).update(date_joined=timezone.now() - timedelta(days=days_ago))


def is_active_changes(user):
    return [
        entry
        for entry in LogEntry.objects.get_for_object(user)
        if "is_active" in (entry.changes_dict or {}) and entry.action == LogEntry.Action.UPDATE
    ]


# --- list_users -------------------------------------------------------------------------------


@pytest.mark.django_db
def test_list_users_shows_roles_flags_and_last_login(advisor, technician, make_user):
    set_last_login(advisor, 3)
    make_user("root", staff=True, superuser=True)
    gone = make_user("gone", roles.SALESPERSON)
    gone.is_active = False
    gone.save()

    data = run_json("list_users")

    users = {row["username"]: row for row in data["users"]}
    assert users["advisor"]["roles"] == [roles.SERVICE_ADVISOR]
    assert users["advisor"]["last_login"] is not None
    assert users["tech"]["roles"] == [roles.TECHNICIAN] and users["tech"]["last_login"] is None
    assert users["root"]["superuser"] is True
    assert users["gone"]["active"] is False
    assert data["count"] == User.objects.count() == len(users)
    assert data["active"] == User.objects.filter(is_active=True).count() == 3

    text = run("list_users")
    assert "advisor" in text and roles.SERVICE_ADVISOR in text
    assert f"{len(users)} users, 3 active" in text


@pytest.mark.django_db
def test_list_users_filters_by_role_and_refuses_an_unknown_role(advisor, technician):
    data = run_json("list_users", "--role", roles.TECHNICIAN)
    assert [row["username"] for row in data["users"]] == ["tech"]

    with pytest.raises(CommandError, match=r"no role named 'Wizard'; roles: .*Technician"):
        run("list_users", "--role", "Wizard")


# --- inactive_users ---------------------------------------------------------------------------


@pytest.fixture
def staff_with_history(make_user):
    """Users with known last logins: recent, old, never (joined long ago / lately), disabled."""
    recent = make_user("recent", roles.SERVICE_ADVISOR)
    set_last_login(recent, 10)
    old = make_user("old", roles.TECHNICIAN)
    set_last_login(old, 120)
    never_old = make_user("never_old", roles.SALESPERSON)
    set_joined(never_old, 200)
    make_user("never_new", roles.SALESPERSON)  # joined today, never logged in
    boss = make_user("boss", superuser=True)
    set_last_login(boss, 365)
    disabled = make_user("disabled", roles.MANAGER)
    set_last_login(disabled, 400)
    User.objects.filter(pk=disabled.pk).update(is_active=False)
    return {user.username: user for user in (recent, old, never_old, boss, disabled)}


@pytest.mark.django_db
def test_inactive_users_counts_never_logged_in_from_the_day_they_joined(staff_with_history):
    data = run_json("inactive_users", "--days", "90")

    rows = {row["username"]: row for row in data["users"]}
    assert sorted(rows) == ["boss", "never_old", "old"]
    assert rows["old"]["inactive_days"] == 120
    assert rows["never_old"]["never_logged_in"] is True
    assert rows["never_old"]["inactive_days"] == 200

    assert sorted(
        row["username"] for row in run_json("inactive_users", "--days", "150")["users"]
    ) == ["boss", "never_old"]
    assert "3 active users without a login for 90 days" in run("inactive_users")


@pytest.mark.django_db
@pytest.mark.parametrize("days", ["0", "-5"])
def test_inactive_users_refuses_days_below_one(days):
    with pytest.raises(CommandError, match=f"--days must be 1 or more, got {days}"):
        run("inactive_users", f"--days={days}")


# --- disable_users ----------------------------------------------------------------------------


@pytest.mark.django_db
def test_disable_users_dry_run_changes_nothing(staff_with_history):
    before = dict(User.objects.values_list("username", "is_active"))
    entries = LogEntry.objects.count()

    output = run("disable_users", "--inactive-days", "90", "--dry-run")

    assert dict(User.objects.values_list("username", "is_active")) == before
    assert LogEntry.objects.count() == entries
    assert "would disable never_old" in output and "would disable old" in output
    assert "kept superuser boss" in output
    assert "2 users would be disabled; dry run, nothing changed" in output


@pytest.mark.django_db
def test_disable_users_disables_only_the_inactive_keeps_history_and_credits_the_operator(
    staff_with_history, operator, monkeypatch
):
    monkeypatch.setenv("CARSHOP_OPERATOR", operator.username)
    old = staff_with_history["old"]
    with set_actor(old):
        customer = Customer.objects.create(first_name="Kept", last_name="History")

    data = run_json("disable_users", "--inactive-days", "90")

    assert data["disabled"] == ["never_old", "old"]
    assert data["kept_superusers"] == ["boss"]
    active = dict(User.objects.values_list("username", "is_active"))
    assert active["old"] is False and active["never_old"] is False
    assert active["recent"] is True and active["never_new"] is True and active["boss"] is True
    assert active["ops"] is True
    # The account, its roles and what it did are still there.
    old.refresh_from_db()
    assert [group.name for group in old.groups.all()] == [roles.TECHNICIAN]
    assert LogEntry.objects.get_for_object(customer).get().actor == old

    for username in ("old", "never_old"):
        [entry] = is_active_changes(User.objects.get(username=username))
        assert entry.changes_dict["is_active"] == ["True", "False"]
        assert entry.actor == operator
    assert is_active_changes(User.objects.get(username="recent")) == []


@pytest.mark.django_db
def test_disable_users_includes_superusers_only_when_asked(staff_with_history):
    run("disable_users", "--inactive-days", "300")
    assert User.objects.get(username="boss").is_active is True

    output = run("disable_users", "--inactive-days", "300", "--include-superusers")
    assert User.objects.get(username="boss").is_active is False
    assert "disabled boss" in output


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--inactive-days=-1"], "--inactive-days must be 1 or more, got -1"),
        (["--inactive-days", "0"], "--inactive-days must be 1 or more, got 0"),
        (["--inactive-days", "soon"], "invalid int value"),
    ],
)
def test_disable_users_refuses_bad_input_and_changes_nothing(staff_with_history, args, message):
    before = dict(User.objects.values_list("username", "is_active"))
    with pytest.raises(CommandError, match=message):
        run("disable_users", *args)
    assert dict(User.objects.values_list("username", "is_active")) == before


# --- reset_password ---------------------------------------------------------------------------


@pytest.mark.django_db
def test_reset_password_from_stdin_sets_it_and_credits_the_operator(advisor, operator, monkeypatch):
    monkeypatch.setenv("CARSHOP_OPERATOR", operator.username)

    output = run(
        "reset_password",
        "--username",
        "advisor",
        "--password-stdin",
        stdin=io.StringIO("Brand-new-Password-7\n"),
    )

    advisor.refresh_from_db()
    assert advisor.check_password("Brand-new-Password-7")
    assert "password of advisor changed" in output
    assert "Brand-new-Password-7" not in output
    entry = (
        LogEntry.objects.get_for_object(advisor)
        .filter(action=LogEntry.Action.UPDATE)
        .latest("timestamp")
    )
    assert "password" in entry.changes_dict
    assert entry.actor == operator


@pytest.mark.django_db
def test_reset_password_prints_every_broken_rule_and_changes_nothing(advisor):
    err = io.StringIO()
    with pytest.raises(CommandError, match="password not changed: it breaks 3 of the password"):
        call_command(
            "reset_password",
            "--username",
            "advisor",
            "--password-stdin",
            stdin=io.StringIO("12345\n"),
            stdout=io.StringIO(),
            stderr=err,
        )
    advisor.refresh_from_db()
    assert advisor.check_password("s3cret-Pass-word")
    messages = err.getvalue()
    assert "too short" in messages
    assert "too common" in messages
    assert "entirely numeric" in messages


@pytest.mark.django_db
def test_reset_password_generate_prints_a_password_once_that_works(advisor):
    output = run("reset_password", "--username", "advisor", "--generate")
    password = output.split("new password (shown once): ", 1)[1].strip()
    assert len(password) == 20
    advisor.refresh_from_db()
    assert advisor.check_password(password)


@pytest.mark.django_db
def test_reset_password_asks_twice_on_a_terminal(advisor, monkeypatch):
    class Terminal(io.StringIO):
        def isatty(self):
            return True

    answers = iter(["Typed-Password-42", "Typed-Password-42"])
    monkeypatch.setattr("getpass.getpass", lambda prompt: next(answers))
    run("reset_password", "--username", "advisor", stdin=Terminal())
    advisor.refresh_from_db()
    assert advisor.check_password("Typed-Password-42")

    answers = iter(["Typed-Password-43", "Typed-Password-44"])
    with pytest.raises(CommandError, match="the two passwords differ"):
        run("reset_password", "--username", "advisor", stdin=Terminal())
    advisor.refresh_from_db()
    assert advisor.check_password("Typed-Password-42")


@pytest.mark.django_db
def test_reset_password_dry_run_checks_the_rules_and_changes_nothing(advisor):
    output = run(
        "reset_password",
        "--username",
        "advisor",
        "--password-stdin",
        "--dry-run",
        stdin=io.StringIO("Brand-new-Password-7\n"),
    )
    assert "passes the rules; dry run, nothing changed" in output
    advisor.refresh_from_db()
    assert advisor.check_password("s3cret-Pass-word")


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("args", "stdin", "message"),
    [
        (["--username", "nobody", "--generate"], "", "no user named 'nobody'"),
        (["--username", "advisor"], "", "not a terminal: use --password-stdin or --generate"),
        (["--username", "advisor", "--password-stdin"], "\n", "no password on standard input"),
        (["--username", "advisor", "--password-stdin", "--generate"], "", "not allowed with"),
    ],
)
def test_reset_password_refuses_bad_input_in_one_line(advisor, args, stdin, message):
    with pytest.raises(CommandError, match=message) as error:
        run("reset_password", *args, stdin=io.StringIO(stdin))
    assert "\n" not in str(error.value)
    advisor.refresh_from_db()
    assert advisor.check_password("s3cret-Pass-word")


@pytest.mark.django_db
def test_reset_password_says_when_the_account_is_locked_out(client, advisor):
    for _ in range(5):
        client.post("/admin/login/", {"username": "advisor", "password": "wrong"})
    output = run("reset_password", "--username", "advisor", "--generate")
    assert "advisor is locked out" in output
    assert "axes_reset_username advisor" in output


# --- user_activity ----------------------------------------------------------------------------


@pytest.fixture
def log_dir(settings, tmp_path):
    folder = tmp_path / "logs"
    folder.mkdir()
    settings.LOG_DIR = folder
    return folder


def auth(when, event, user, ip="203.0.113.5"):
    return line(when, logger="carshop.auth", message=event, event=event, user=user, ip=ip)


@pytest.mark.django_db
def test_user_activity_counts_auth_events_and_audit_changes_in_the_period(
    log_dir, advisor, technician, manager
):
    write_log(
        log_dir / "auth.log.2.gz",
        [auth(ago(days=40), "login", "advisor"), auth(ago(days=20), "login", "advisor")],
        compressed=True,
        modified=ago(days=20),
    )
    write_log(
        log_dir / "auth.log.1",
        [auth(ago(days=5), "login_failed", "advisor"), auth(ago(days=5), "login", "advisor")],
    )
    write_log(
        log_dir / "auth.log",
        [
            auth(ago(hours=2), "login", "tech"),
            auth(ago(hours=2), "logout", "tech"),
            auth(ago(hours=1), "login_failed", "ghost", ip="198.51.100.9"),
            auth(ago(hours=1), "lockout", "ghost", ip="198.51.100.9"),
            auth(ago(minutes=5), "password_changed", "advisor"),
        ],
    )
    with set_actor(advisor):
        Customer.objects.create(first_name="New", last_name="One")
        customer = Customer.objects.create(first_name="Changed", last_name="Two")
        customer.phone = "555-0100"
        customer.save()
        old = Customer.objects.create(first_name="Long", last_name="Ago")
    LogEntry.objects.get_for_object(old).update(timestamp=ago(days=45))

    data = run_json("user_activity", "--period", "30d")

    rows = {row["username"]: row for row in data["users"]}
    assert sorted(rows) == ["advisor", "ghost", "tech"]  # manager did nothing
    advisor_row = rows["advisor"]
    assert (
        advisor_row["logins"],
        advisor_row["failed_logins"],
        advisor_row["password_changes"],
    ) == (2, 1, 1)
    assert advisor_row["changes"] == 3
    assert advisor_row["changes_by_action"] == {"created": 2, "updated": 1, "deleted": 0}
    assert (rows["tech"]["logins"], rows["tech"]["logouts"]) == (1, 1)
    assert rows["ghost"]["account"] is False
    assert (rows["ghost"]["failed_logins"], rows["ghost"]["lockouts"]) == (1, 1)
    assert rows["ghost"]["failed_from"] == ["198.51.100.9"]
    assert data["auth_log"]["files"] == ["auth.log.2.gz", "auth.log.1", "auth.log"]

    everyone = run_json("user_activity", "--period", "30d", "--all")
    assert "manager" in {row["username"] for row in everyone["users"]}

    only = run_json("user_activity", "--period", "24h", "--user", "advisor")
    assert [row["username"] for row in only["users"]] == ["advisor"]
    assert only["users"][0]["logins"] == 0 and only["users"][0]["password_changes"] == 1

    text = run("user_activity", "--period", "30d")
    assert "ghost" in text and "(no such account)" in text


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--period", "30x"], "is not a duration"),
        (["--period", "0d"], "--period must be longer than zero"),
        (["--user", "nobody"], "no user named 'nobody'"),
        (
            ["--log-dir", "/nonexistent/carshop-logs"],
            "log folder /nonexistent/carshop-logs does not",
        ),
    ],
)
def test_user_activity_refuses_bad_input(log_dir, args, message):
    with pytest.raises(CommandError, match=message):
        run("user_activity", *args)


@pytest.mark.postgresql
@pytest.mark.django_db(transaction=True)
def test_a_login_landing_during_disable_users_keeps_that_user_active(make_user):
    returning = make_user("returning", roles.TECHNICIAN)
    set_last_login(returning, 200)
    logging_in = threading.Event()

    def log_in_slowly():
        # A login updates last_login; this one holds its transaction open while disable_users
        # runs, as a slow request would.
        try:
            with transaction.atomic():
                User.objects.filter(pk=returning.pk).update(last_login=timezone.now())
                logging_in.set()
                time.sleep(1)
        finally:
            connection.close()

    login = threading.Thread(target=log_in_slowly)
    login.start()
    try:
        assert logging_in.wait(10)
        data = run_json("disable_users", "--inactive-days", "90")
    finally:
        login.join()

    # disable_users waited for the login's row and saw it: the user is active and not listed.
    assert data["disabled"] == []
    assert User.objects.get(pk=returning.pk).is_active is True
