"""Data cleanup commands: prune_temp_data, cleanup_orphans, archive_logs."""

import errno
import gzip
import hashlib
import io
import json
import os
import time
import uuid
from datetime import timedelta
from decimal import Decimal

import pytest
from auditlog.models import LogEntry
from axes.models import AccessAttempt, AccessFailureLog, AccessLog
from django.contrib.sessions.backends.db import SessionStore
from django.contrib.sessions.models import Session
from django.core.files.base import ContentFile
from django.core.management import load_command_class
from django.core.management.base import CommandError
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from accounts import services as account_services
from accounts import webhooks
from accounts.models import (
    Customer,
    IdempotentRequest,
    WebhookDelivery,
    WebhookEvent,
)
from carshop.ops.cleanup import audit_archive as cleanup
from inventory.models import StockUnitPhoto
from repairs.models import RepairOrder
from sales import services as sales_services
from sales.models import Deal, DealAddon, TradeIn
from tests.helpers.api import partner_with_key
from tests.helpers.barrier import returned, run_together
from tests.helpers.builders.lot import make_deal, make_unit
from tests.helpers.builders.repairs import make_order
from tests.helpers.commands import run, run_json

pytestmark = pytest.mark.django_db


def kinds(report):
    return {kind["kind"]: kind for kind in report["kinds"]}


def ago(days=0, hours=0):
    return timezone.now() - timedelta(days=days, hours=hours)


# --- building blocks ---------------------------------------------------------------------------


def make_session(expire_date, user=None):
    store = SessionStore()
    if user is not None:
        store["_auth_user_id"] = str(user.pk)
        store["_auth_user_backend"] = "django.contrib.auth.backends.ModelBackend"
    store["cart"] = "x"
    store.create()
    Session.objects.filter(session_key=store.session_key).update(expire_date=expire_date)
    return store.session_key


def make_event(created_at, *deliveries):
    """An event dated `created_at` with a delivery per (subscription, status)."""
    event = WebhookEvent.objects.create(
        event_id=uuid.uuid4(),
        event_type="repair_order.status",
        payload={"id": 1},
        scope="repairs:read",
    )
    WebhookEvent.objects.filter(pk=event.pk).update(created_at=created_at)
    for subscription, status in deliveries:
        WebhookDelivery.objects.create(event=event, subscription=subscription, status=status)
    return event


def subscription_of(partner, number=1):
    return account_services.subscribe(
        partner, url=f"http://127.0.0.1:9/hook{number}", events=["repair_order.status_changed"]
    )


def make_idempotency_key(partner, key, created_at):
    row = IdempotentRequest.objects.create(
        partner=partner, key=key, fingerprint="f" * 64, response_status=201, response_body={"id": 1}
    )
    IdempotentRequest.objects.filter(pk=row.pk).update(created_at=created_at)
    return row


def make_task_result(status, finished_at):
    return DBTaskResult.objects.create(
        status=status,
        args_kwargs={"args": [1], "kwargs": {}},
        task_path="tests.noop",
        backend_name="default",
        queue_name="default",
        run_after=ago(),
        finished_at=finished_at,
        exception_class_path="",
        traceback="",
    )


def make_access(model, username, when, **fields):
    row = model.objects.create(
        username=username,
        ip_address="203.0.113.9",
        user_agent="test",
        http_accept="*/*",
        path_info="/admin/login/",
        **fields,
    )
    model.objects.filter(pk=row.pk).update(attempt_time=when)
    return row


def age_deal(deal, days):
    Deal.objects.filter(pk=deal.pk).update(updated_at=ago(days))


def touch_file(path, days_old):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"data")
    stamp = time.time() - days_old * 86400
    os.utime(path, (stamp, stamp))
    return path


@pytest.fixture
def temp_dirs(tmp_path, settings):
    settings.FILE_UPLOAD_TEMP_DIR = str(tmp_path / "uploads")
    settings.BACKUP_STAGING_DIR = str(tmp_path / "staging")
    (tmp_path / "uploads").mkdir()
    (tmp_path / "staging").mkdir()
    return tmp_path


@pytest.fixture
def media(tmp_path, settings):
    """A media folder of the test's own (the default storage follows STORAGES)."""
    settings.MEDIA_ROOT = str(tmp_path / "media")
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": str(tmp_path / "media")},
        },
    }
    return tmp_path / "media"


@pytest.fixture
def temp_data(temp_dirs):
    """Old and new rows of every temporary kind."""
    partner, _key, _plain = partner_with_key()
    first, second = subscription_of(partner, 1), subscription_of(partner, 2)
    data = {
        "expired": make_session(ago(hours=1)),
        "live": make_session(ago(days=-1)),
        "old_done": make_event(ago(40), (first, "delivered"), (second, "failed")),
        "old_bare": make_event(ago(40)),
        "old_pending": make_event(ago(40), (first, "delivered"), (second, "pending")),
        "new_done": make_event(ago(2), (first, "delivered")),
        "old_key": make_idempotency_key(partner, "old", ago(40)),
        "new_key": make_idempotency_key(partner, "new", ago(2)),
        "old_task": make_task_result("SUCCESSFUL", ago(40)),
        "old_failed_task": make_task_result("FAILED", ago(40)),
        "waiting_task": make_task_result("READY", None),
        "new_task": make_task_result("SUCCESSFUL", ago(2)),
        "old_attempt": make_access(
            AccessAttempt, "ann", ago(40), get_data="", post_data="", failures_since_start=2
        ),
        "new_attempt": make_access(
            AccessAttempt, "bob", ago(hours=1), get_data="", post_data="", failures_since_start=5
        ),
        "old_login": make_access(AccessLog, "ann", ago(40)),
        "new_login": make_access(AccessLog, "ann", ago(1)),
        "old_failure": make_access(AccessFailureLog, "ann", ago(40)),
        "old_upload": touch_file(temp_dirs / "uploads" / "tmpab12.upload.jpg", 40),
        "new_upload": touch_file(temp_dirs / "uploads" / "tmpcd34.upload.jpg", 1),
        "someone_elses": touch_file(temp_dirs / "uploads" / "notes.txt", 400),
        "old_partial": touch_file(temp_dirs / "staging" / "full-2024.sqlite3.gz.partial", 40),
    }
    return data


# --- prune_temp_data ---------------------------------------------------------------------------


def test_prune_temp_data_deletes_what_is_older_than_the_age_and_keeps_the_rest(temp_data):
    report = run_json("prune_temp_data", "--age=30d")

    counts = {name: kind["count"] for name, kind in kinds(report).items()}
    assert counts["sessions"] == 1
    assert counts["webhook_events"] == 2
    assert counts["idempotency_keys"] == 1
    assert counts["task_results"] == 2
    assert counts["login_attempts"] == 1
    assert counts["login_records"] == 1
    assert counts["login_failure_records"] == 1
    assert counts["temporary_files"] == 2
    assert kinds(report)["webhook_events"]["note"] == "with 2 deliveries"

    assert list(Session.objects.values_list("session_key", flat=True)) == [temp_data["live"]]
    assert set(WebhookEvent.objects.values_list("pk", flat=True)) == {
        temp_data["old_pending"].pk,
        temp_data["new_done"].pk,
    }
    # The deliveries of deleted events went with them; the pending one is still to send.
    assert sorted(WebhookDelivery.objects.values_list("status", flat=True)) == [
        "delivered",
        "delivered",
        "pending",
    ]
    assert list(IdempotentRequest.objects.values_list("key", flat=True)) == ["new"]
    assert set(DBTaskResult.objects.values_list("pk", flat=True)) == {
        temp_data["waiting_task"].pk,
        temp_data["new_task"].pk,
    }
    assert list(AccessAttempt.objects.values_list("username", flat=True)) == ["bob"]
    assert list(AccessLog.objects.values_list("pk", flat=True)) == [temp_data["new_login"].pk]
    assert not AccessFailureLog.objects.exists()
    assert not temp_data["old_upload"].exists() and not temp_data["old_partial"].exists()
    assert temp_data["new_upload"].exists()
    assert temp_data["someone_elses"].exists()  # not a temporary file of ours


def test_prune_temp_data_dry_run_counts_and_changes_nothing(temp_data):
    before = (
        Session.objects.count(),
        WebhookEvent.objects.count(),
        WebhookDelivery.objects.count(),
        IdempotentRequest.objects.count(),
        DBTaskResult.objects.count(),
        AccessAttempt.objects.count(),
        AccessLog.objects.count(),
        AccessFailureLog.objects.count(),
    )

    report = run_json("prune_temp_data", "--age=30d", "--dry-run")

    assert report["dry_run"] is True
    assert {kind["action"] for kind in report["kinds"]} == {"would delete", "kept"}
    assert kinds(report)["webhook_events"]["count"] == 2
    assert report["removed"] == 11
    assert (
        Session.objects.count(),
        WebhookEvent.objects.count(),
        WebhookDelivery.objects.count(),
        IdempotentRequest.objects.count(),
        DBTaskResult.objects.count(),
        AccessAttempt.objects.count(),
        AccessLog.objects.count(),
        AccessFailureLog.objects.count(),
    ) == before
    assert temp_data["old_upload"].exists() and temp_data["old_partial"].exists()
    assert "dry run, nothing changed" in run("prune_temp_data", "--age=30d", "--dry-run")


def test_idempotency_keys_and_lockouts_outlive_a_short_age(temp_dirs):
    partner, _key, _plain = partner_with_key()
    make_idempotency_key(partner, "two-hours", ago(hours=2))
    locked = make_access(
        AccessAttempt,
        "bob",
        timezone.now() - timedelta(minutes=10),
        get_data="",
        post_data="",
        failures_since_start=5,
    )

    report = run_json("prune_temp_data", "--age=5m")

    # A key is remembered IDEMPOTENCY_KEY_HOURS, a lockout lasts the cool-off: a short age
    # does not cut them short.
    assert kinds(report)["idempotency_keys"]["count"] == 0
    assert kinds(report)["login_attempts"]["count"] == 0
    assert IdempotentRequest.objects.filter(key="two-hours").exists()
    assert AccessAttempt.objects.filter(pk=locked.pk).exists()


def test_stale_draft_deals_are_deleted_only_with_nothing_attached(
    temp_dirs, salesperson, operator, monkeypatch
):
    monkeypatch.setenv("CARSHOP_OPERATOR", operator.username)
    bare = make_deal(
        salesperson=salesperson, addons=[{"kind": "accessory", "price": Decimal("300.00")}]
    )
    paid = make_deal(salesperson=salesperson)
    sales_services.record_payment(paid, amount="500.00", method="cash")
    traded = make_deal(
        salesperson=salesperson,
        trades=[{"allowance": Decimal("3000"), "actual_cash_value": Decimal("2800")}],
    )
    fresh = make_deal(salesperson=salesperson)
    signed = make_deal(salesperson=salesperson)
    sales_services.sign_deal(signed)
    for deal in (bare, paid, traded, signed):
        age_deal(deal, 45)
    age_deal(fresh, 3)
    estimate = make_order()
    RepairOrder.objects.filter(pk=estimate.pk).update(updated_at=ago(60))

    report = run_json("prune_temp_data", "--age=30d")

    assert kinds(report)["draft_deals"]["count"] == 1
    assert kinds(report)["draft_deals"]["note"] == (
        "2 stale drafts with payments, commissions or trade-ins kept"
    )
    assert set(Deal.objects.values_list("pk", flat=True)) == {
        paid.pk,
        traded.pk,
        fresh.pk,
        signed.pk,
    }
    assert not DealAddon.objects.filter(deal_id=bare.pk).exists()
    assert TradeIn.objects.filter(deal=traded).exists()
    # Repair orders are numbered documents: a stale estimate is reported, never deleted.
    assert kinds(report)["stale_estimates"] == {
        "kind": "stale_estimates",
        "count": 1,
        "action": "kept",
        "what": "repair orders still estimates, untouched for the age",
        "note": "never deleted (numbered documents): cancel them in the admin",
    }
    assert RepairOrder.objects.filter(pk=estimate.pk, status="estimate").exists()
    # The deletion is in the audit log, credited to the operator.
    deletion = LogEntry.objects.get(
        content_type__model="deal", object_pk=str(bare.pk), action=LogEntry.Action.DELETE
    )
    assert deletion.actor == operator


@pytest.mark.parametrize(
    "age, message",
    [
        ("abc", "--age: 'abc' is not a duration: use a number and d, h or m (30d, 24h)"),
        ("30", "--age: '30' is not a duration: use a number and d, h or m (30d, 24h)"),
        ("0d", "--age must be more than zero"),
    ],
)
def test_prune_temp_data_refuses_a_bad_age_and_changes_nothing(temp_data, age, message):
    sessions = Session.objects.count()
    with pytest.raises(CommandError) as error:
        run("prune_temp_data", f"--age={age}")
    assert str(error.value) == message
    assert Session.objects.count() == sessions
    assert temp_data["old_upload"].exists()


# --- cleanup_orphans ---------------------------------------------------------------------------


def test_cleanup_orphans_deletes_unreferenced_old_uploads_only(media):
    unit = make_unit()
    photo = StockUnitPhoto(unit=unit, caption="front")
    photo.image.save("front.jpg", ContentFile(b"\xff\xd8jpeg"), save=True)
    kept_photo = media / photo.image.name
    os.utime(kept_photo, (time.time() - 10 * 86400,) * 2)
    orphan = touch_file(media / "stock" / "photos" / "2024" / "01" / "gone.jpg", 10)
    orphan_receipt = touch_file(media / "stock" / "receipts" / "2024" / "01" / "r.pdf", 10)
    just_uploaded = touch_file(media / "stock" / "photos" / "2024" / "01" / "new.jpg", 0)
    not_ours = touch_file(media / "exports" / "report.csv", 100)

    report = run_json("cleanup_orphans")

    assert kinds(report)["files"]["count"] == 2
    assert report["freed_bytes"] == 8
    assert not orphan.exists() and not orphan_receipt.exists()
    assert kept_photo.exists()  # a row names it
    assert just_uploaded.exists()  # its row may not be committed yet
    assert not_ours.exists()  # outside the upload folders
    assert StockUnitPhoto.objects.filter(pk=photo.pk).exists()


def test_cleanup_orphans_deletes_sessions_of_deleted_users(make_user):
    kept_user = make_user("stays")
    gone_user = make_user("leaves")
    kept = make_session(ago(days=-1), kept_user)
    anonymous = make_session(ago(days=-1))
    orphan = make_session(ago(days=-1), gone_user)
    gone_user.delete()

    report = run_json("cleanup_orphans")

    assert kinds(report)["sessions"]["count"] == 1
    assert set(Session.objects.values_list("session_key", flat=True)) == {kept, anonymous}
    assert orphan not in Session.objects.values_list("session_key", flat=True)


def test_cleanup_orphans_deletes_queued_webhook_tasks_of_deleted_deliveries(settings):
    settings.TASKS = {
        "default": {"BACKEND": "django_tasks_db.DatabaseBackend", "QUEUES": ["default", "webhooks"]}
    }
    partner, _key, _plain = partner_with_key()
    event = make_event(ago(), (subscription_of(partner), "pending"))
    delivery = WebhookDelivery.objects.get(event=event)
    webhooks.enqueue([delivery.pk, delivery.pk + 1000])

    report = run_json("cleanup_orphans")

    assert kinds(report)["webhook_tasks"]["count"] == 1
    assert [task.args_kwargs["args"] for task in DBTaskResult.objects.all()] == [[delivery.pk]]


def test_cleanup_orphans_dry_run_changes_nothing_and_audit_history_is_kept(media, make_user):
    orphan = touch_file(media / "stock" / "photos" / "2024" / "01" / "gone.jpg", 10)
    gone_user = make_user("leaves")
    make_session(ago(days=-1), gone_user)
    gone_user.delete()
    customer = Customer.objects.create(first_name="Ada", last_name="Gone")
    customer_id = customer.pk
    customer.delete()
    entries = LogEntry.objects.count()

    report = run_json("cleanup_orphans", "--dry-run")
    gone_user_sessions = Session.objects.count()

    assert kinds(report)["files"] == {
        **kinds(report)["files"],
        "count": 1,
        "action": "would delete",
    }
    assert kinds(report)["sessions"]["count"] == 1
    assert orphan.exists() and gone_user_sessions == 1
    run("cleanup_orphans")
    # Audit entries of the deleted customer are its history: never orphans.
    assert (
        LogEntry.objects.filter(content_type__model="customer", object_pk=str(customer_id)).count()
        == 2
    )
    assert LogEntry.objects.count() >= entries
    assert kinds(report)["audit_entries"]["action"] == "kept"
    assert "NOT orphans" in load_command_class("carshop", "cleanup_orphans").help


# --- archive_logs ------------------------------------------------------------------------------


def make_audit_entries(count, days_old):
    """`count` audit entries (changes of a customer) dated `days_old` days back."""
    customer = Customer.objects.create(first_name="Ada", last_name=f"Audit{days_old}")
    for number in range(count - 1):
        customer.notes = f"note {number}"
        customer.save()
    entries = LogEntry.objects.get_for_object(customer)
    LogEntry.objects.filter(pk__in=entries.values("pk")).update(timestamp=ago(days_old))
    return list(LogEntry.objects.filter(pk__in=entries.values("pk")).order_by("pk"))


def as_json(entry):
    return json.loads(json.dumps(cleanup.entry_as_dict(entry), default=cleanup._json_default))


def archive_files(folder):
    return sorted(path.name for path in folder.iterdir()) if folder.exists() else []


def test_archive_logs_round_trip(tmp_path, operator, monkeypatch):
    monkeypatch.setenv("CARSHOP_OPERATOR", operator.username)
    old = make_audit_entries(5, 120)
    new = make_audit_entries(3, 10)
    expected = [as_json(entry) for entry in old]
    destination = tmp_path / "archive" / "audit"

    result = run_json("archive_logs", "--type=audit", "--age=90d", f"--destination={destination}")

    archive = destination / result["file"].rsplit("/", 1)[-1]
    assert result["entries"] == 5
    assert not LogEntry.objects.filter(pk__in=[entry.pk for entry in old]).exists()
    assert LogEntry.objects.filter(pk__in=[entry.pk for entry in new]).count() == 3
    # The file holds exactly the deleted entries, column for column.
    with gzip.open(archive, "rb") as handle:
        archived = [json.loads(line) for line in handle]
    assert archived == expected
    assert cleanup.read_archive(archive) == expected
    # Its checksum verifies, in the sidecar (sha256sum format) and the manifest.
    digest = hashlib.sha256(archive.read_bytes()).hexdigest()
    assert (destination / (archive.name + ".sha256")).read_text() == f"{digest}  {archive.name}\n"
    manifest = json.loads(
        (destination / archive.name.replace(".jsonl.gz", ".manifest.json")).read_text()
    )
    assert manifest["sha256"] == digest == result["sha256"]
    assert (manifest["entries"], manifest["first_id"], manifest["last_id"]) == (
        5,
        old[0].pk,
        old[-1].pk,
    )
    assert manifest["operator"] == operator.username
    assert archive_files(destination) == sorted(
        [
            archive.name,
            archive.name + ".sha256",
            manifest["file"].replace(".jsonl.gz", "") + ".manifest.json",
        ]
    )
    # The audit log keeps a trace of where the entries went, credited to the operator.
    trace = LogEntry.objects.get(object_repr__contains="archived to")
    assert trace.actor == operator
    assert trace.additional_data["sha256"] == digest
    assert trace.additional_data["entries"] == 5


def test_a_corrupted_archive_is_refused_when_read(tmp_path):
    make_audit_entries(2, 120)
    result = run_json("archive_logs", "--age=90d", f"--destination={tmp_path}")
    archive = tmp_path / result["file"].rsplit("/", 1)[-1]
    data = bytearray(archive.read_bytes())
    data[-10] ^= 0xFF
    archive.write_bytes(bytes(data))
    with pytest.raises(CommandError, match="SHA-256 does not match"):
        cleanup.read_archive(archive)


def test_archive_logs_dry_run_writes_and_deletes_nothing(tmp_path):
    old = make_audit_entries(4, 120)
    destination = tmp_path / "not-made-yet"

    output = run("archive_logs", "--age=90d", f"--destination={destination}", "--dry-run")

    assert output.startswith("4 audit entries older than 90d")
    assert "dry run, nothing changed" in output
    assert LogEntry.objects.filter(pk__in=[entry.pk for entry in old]).count() == 4
    assert not destination.exists()


def test_archive_logs_with_nothing_old_writes_no_file(tmp_path):
    make_audit_entries(2, 10)
    output = run("archive_logs", "--age=90d", f"--destination={tmp_path}")
    assert "nothing archived" in output
    assert archive_files(tmp_path) == []


def test_archive_logs_refuses_a_destination_it_cannot_write(tmp_path):
    old = make_audit_entries(3, 120)
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")

    with pytest.raises(CommandError) as error:
        run("archive_logs", "--age=90d", f"--destination={blocker / 'audit'}")

    assert str(error.value) == (
        f"cannot write to the destination {blocker / 'audit'}: Not a directory"
    )
    assert LogEntry.objects.filter(pk__in=[entry.pk for entry in old]).count() == 3


@pytest.mark.parametrize(
    "args, message",
    [
        (
            ["--type=app"],
            "--type 'app': only audit can be archived (log files are rotated and "
            "compressed by logrotate)",
        ),
        (
            ["--age=ninety"],
            "--age: 'ninety' is not a duration: use a number and d, h or m (30d, 24h)",
        ),
        (["--age=0m"], "--age must be more than zero"),
    ],
)
def test_archive_logs_refuses_bad_input_and_changes_nothing(tmp_path, args, message):
    make_audit_entries(3, 120)
    entries = LogEntry.objects.count()
    with pytest.raises(CommandError) as error:
        run("archive_logs", *args, f"--destination={tmp_path}")
    assert str(error.value) == message
    assert LogEntry.objects.count() == entries
    assert archive_files(tmp_path) == []


def test_a_disk_full_while_writing_leaves_every_entry_in_the_database(tmp_path, monkeypatch):
    old = make_audit_entries(6, 120)
    real_line = cleanup.entry_line
    written = []

    def line_then_disk_full(entry):
        if len(written) == 3:
            raise OSError(errno.ENOSPC, "No space left on device")
        written.append(entry.pk)
        return real_line(entry)

    monkeypatch.setattr(cleanup, "entry_line", line_then_disk_full)
    with pytest.raises(CommandError) as error:
        run("archive_logs", "--age=90d", f"--destination={tmp_path}")

    assert str(error.value) == (
        f"could not write the archive in {tmp_path}: No space left on device; nothing was deleted"
    )
    assert LogEntry.objects.filter(pk__in=[entry.pk for entry in old]).count() == 6
    assert not LogEntry.objects.filter(object_repr__contains="archived to").exists()
    assert archive_files(tmp_path) == []


def test_a_failed_fsync_leaves_every_entry_in_the_database(tmp_path, monkeypatch):
    old = make_audit_entries(3, 120)

    def failing_fsync(fd):
        raise OSError(errno.EIO, "Input/output error")

    monkeypatch.setattr(os, "fsync", failing_fsync)
    with pytest.raises(CommandError, match="Input/output error; nothing was deleted"):
        run("archive_logs", "--age=90d", f"--destination={tmp_path}")

    assert LogEntry.objects.filter(pk__in=[entry.pk for entry in old]).count() == 3
    assert archive_files(tmp_path) == []


def test_a_file_that_does_not_read_back_as_written_deletes_nothing(tmp_path, monkeypatch):
    """The read-back compares with what was written: a line lost on the way is caught."""
    old = make_audit_entries(4, 120)
    real_gzip_open = gzip.open

    def losing_reader(path, mode="rb", *args, **kwargs):
        handle = real_gzip_open(path, mode, *args, **kwargs)
        if "r" in mode:
            lines = handle.readlines()[1:]
            handle.close()
            return io.BytesIO(b"".join(lines))
        return handle

    monkeypatch.setattr(cleanup.gzip, "open", losing_reader)
    with pytest.raises(
        CommandError, match="does not hold the entries written; nothing was deleted"
    ):
        run("archive_logs", "--age=90d", f"--destination={tmp_path}")

    assert LogEntry.objects.filter(pk__in=[entry.pk for entry in old]).count() == 4
    assert archive_files(tmp_path) == []


@pytest.mark.postgresql
@pytest.mark.django_db(transaction=True)
def test_two_archive_runs_at_once_archive_each_entry_once(tmp_path):
    old = make_audit_entries(40, 120)

    def archive(folder):
        return cleanup.archive_audit_log(timedelta(days=90), folder)["entries"]

    outcomes = returned(
        run_together(
            *(lambda name=name: archive(tmp_path / name) for name in "ab"), catch=(), timeout=60
        )
    )

    archived = []
    for name in "ab":
        for path in (tmp_path / name).glob("*.jsonl.gz"):
            archived += [entry["id"] for entry in cleanup.read_archive(path)]
    assert sorted(outcomes) == [0, 40]
    assert sorted(archived) == [entry.pk for entry in old]
    assert not LogEntry.objects.filter(pk__in=archived).exists()


# --- conventions -------------------------------------------------------------------------------

CLEANUP_COMMANDS = ["prune_temp_data", "cleanup_orphans", "archive_logs", "vacuum_database"]


@pytest.mark.parametrize("name", CLEANUP_COMMANDS)
def test_cleanup_commands_follow_the_operations_conventions(name):
    from carshop.ops.toolkit import OperationsCommand
    from tests.helpers.commands import command, documented_sections, parser_options

    instance = command(name)
    assert isinstance(instance, OperationsCommand)
    assert f"Example: python manage.py {name}" in instance.help
    assert "--format" in parser_options(name)
    if name != "vacuum_database":  # VACUUM changes no data
        assert "--dry-run" in parser_options(name)
    assert name in documented_sections()
