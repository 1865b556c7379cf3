"""The accounting feed: invoices, credit notes and payments, oldest change first, resumed with
`updated_after` so that a nightly sync never misses or repeats a record, also while documents
are being written and committed out of order."""

import threading
import time
from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import connection, transaction
from django.utils import timezone

from accounts.roles import SERVICE_ADVISOR, TECHNICIAN
from repairs import services
from repairs.models import CreditNote, FeedClock, Invoice, Payment
from tests.helpers.api import key_client, partner_with_key, staff_client
from tests.helpers.barrier import join, start_together
from tests.helpers.builders.repairs import add_job_with_lines, make_order, take_to

pytestmark = pytest.mark.django_db

FEEDS = {"invoices": Invoice, "credit-notes": CreditNote, "payments": Payment}


def _books():
    _partner, _key, plain = partner_with_key(
        name="Books", scopes=["accounting:read"], kind="accounting"
    )
    return key_client(plain)


def _invoiced(labor_hours="1"):
    order = make_order()
    add_job_with_lines(order, labor=[(labor_hours, "100")])
    return take_to(order, "invoiced").invoice


def _sync(client, feed, after=None, page_size=3, pause=0.0):
    """What an accounting system does each night: follow `next` to the end, starting after the
    last row of the previous sync. Returns (ids received, where the next sync starts)."""
    received, url = [], f"/api/v1/{feed}/"
    params = {"page_size": page_size, **({"updated_after": after} if after else {})}
    while url:
        response = client.get(url, params)
        assert response.status_code == 200, response.content
        rows = response.json()["results"]
        received += [row["id"] for row in rows]
        if rows:
            after = rows[-1]["updated_at"]
        url, params = response.json()["next"], None
        time.sleep(pause)
    return received, after


def test_the_feed_lists_documents_with_their_amounts_oldest_first():
    invoice = _invoiced("2")
    services.issue_credit_note(invoice, Decimal("10.00"), "Goodwill")
    services.record_payment(invoice, Decimal("40.00"), "card", reference="slip 1")
    client = _books()

    invoices = client.get("/api/v1/invoices/").json()["results"]
    notes = client.get("/api/v1/credit-notes/").json()["results"]
    payments = client.get("/api/v1/payments/").json()["results"]

    assert invoices[0]["number"] == invoice.number
    assert invoices[0]["repair_order_number"] == invoice.repair_order.number
    assert Decimal(invoices[0]["total"]) == invoice.total
    assert "snapshot" not in invoices[0]
    assert (notes[0]["invoice"], notes[0]["amount"], notes[0]["reason"]) == (
        invoice.pk,
        "10.00",
        "Goodwill",
    )
    assert (payments[0]["invoice_number"], payments[0]["amount"], payments[0]["method"]) == (
        invoice.number,
        "40.00",
        "card",
    )
    assert client.get(f"/api/v1/payments/{payments[0]['id']}/").json() == payments[0]


def test_feed_times_are_unique_and_follow_the_order_documents_were_written():
    invoices = [_invoiced() for _ in range(4)]
    times = [invoice.updated_at for invoice in invoices]
    assert times == sorted(times)
    assert len(set(times)) == 4
    assert FeedClock.objects.get(feed="repairs.invoice").last_at == times[-1]


def test_a_sync_resumed_after_the_last_row_receives_only_what_is_new():
    client = _books()
    first = [_invoiced() for _ in range(5)]
    received, after = _sync(client, "invoices", page_size=2)
    assert received == [invoice.pk for invoice in first]

    later = [_invoiced() for _ in range(2)]
    received, _after = _sync(client, "invoices", after=after)
    assert received == [invoice.pk for invoice in later]


def test_updated_since_includes_rows_at_that_time_and_bad_times_are_refused():
    client = _books()
    invoice = _invoiced()
    at = invoice.updated_at.isoformat()
    assert [
        r["id"] for r in client.get("/api/v1/invoices/", {"updated_since": at}).json()["results"]
    ] == [invoice.pk]
    assert client.get("/api/v1/invoices/", {"updated_after": at}).json()["results"] == []
    refused = client.get("/api/v1/invoices/", {"updated_after": "last night"})
    assert refused.status_code == 400
    assert list(refused.json()["fields"]) == ["updated_after"]


@pytest.mark.parametrize("feed", FEEDS)
@pytest.mark.parametrize("scope", ["listings:read", "leads:write", "repairs:read"])
def test_the_feed_needs_the_accounting_scope(feed, scope):
    _partner, _key, plain = partner_with_key(name=f"No books {scope}", scopes=[scope])
    response = key_client(plain).get(f"/api/v1/{feed}/")
    assert response.status_code == 403
    assert response.json()["code"] == "permission_denied"


@pytest.mark.parametrize("feed", FEEDS)
def test_the_feed_answers_401_without_a_key(feed):
    from rest_framework.test import APIClient

    response = APIClient().get(f"/api/v1/{feed}/")
    assert response.status_code == 401


@pytest.mark.parametrize("rows", [1, 50])
def test_a_feed_page_costs_the_same_number_of_queries_with_1_or_50_rows(
    rows, django_assert_max_num_queries
):
    invoice = _invoiced(str(rows))
    for _ in range(rows):
        services.record_payment(invoice, Decimal("1.00"), "cash")
    client = _books()
    client.get("/api/v1/me/")  # the key's last use is recorded once a minute, not per page
    for feed in FEEDS:
        with django_assert_max_num_queries(2):  # the key, the page (with its joined rows)
            response = client.get(f"/api/v1/{feed}/", {"page_size": 50})
        assert response.status_code == 200


def test_staff_read_the_feed_with_their_roles_permissions():
    _invoiced()
    advisor, _user = staff_client("advisor1", SERVICE_ADVISOR)
    assert advisor.get("/api/v1/invoices/").status_code == 200
    technician, _user = staff_client("tech1", TECHNICIAN)
    assert technician.get("/api/v1/invoices/").status_code == 403


@pytest.mark.postgresql
@pytest.mark.django_db(transaction=True)
def test_syncs_during_concurrent_invoicing_and_payments_receive_every_document_exactly_once():
    """Writers invoice orders and take payments on two invoices while an accounting system
    syncs page by page. Some writers hold their transaction open after writing (a slow commit):
    with times taken before commit, a sync would page past a fast writer's later row before the
    slow writer's earlier row appears, and the next sync (after the last row seen) would never
    see it. (Invoices are also serialized by their gapless numbering; payments are not.)"""
    client = _books()
    completed = []
    for _ in range(12):
        order = make_order()
        add_job_with_lines(order, labor=[("1", "100")])
        completed.append(take_to(order, "completed"))
    to_pay = [_invoiced("10") for _ in range(2)]
    errors = []

    def invoice_orders(orders, slow):
        try:
            for order in orders:
                with transaction.atomic():
                    services.invoice_repair_order(order)
                    if slow:
                        time.sleep(0.08)  # committed well after its feed time was taken
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    def take_payments(invoice, slow):
        try:
            for _ in range(8):
                with transaction.atomic():
                    services.record_payment(invoice, Decimal("1.00"), "card")
                    if slow:
                        time.sleep(0.05)
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads, start = start_together(
        lambda: invoice_orders(completed[0::2], True),
        lambda: invoice_orders(completed[1::2], False),
        lambda: take_payments(to_pay[0], True),
        lambda: take_payments(to_pay[1], False),
        caller_waits=True,
        wait=None,
    )
    start.wait()
    invoices_seen, payments_seen = [], []
    invoices_after = payments_after = None
    while any(thread.is_alive() for thread in threads):  # nightly syncs, while writing
        received, invoices_after = _sync(
            client, "invoices", invoices_after, page_size=2, pause=0.01
        )
        invoices_seen += received
        received, payments_after = _sync(
            client, "payments", payments_after, page_size=2, pause=0.01
        )
        payments_seen += received
    join(threads, timeout=None)
    assert not errors
    received, _after = _sync(client, "invoices", invoices_after)  # the sync after
    invoices_seen += received
    received, _after = _sync(client, "payments", payments_after)
    payments_seen += received

    assert sorted(invoices_seen) == sorted(Invoice.objects.values_list("pk", flat=True))
    assert len(invoices_seen) == 14
    assert sorted(payments_seen) == sorted(Payment.objects.values_list("pk", flat=True))
    assert len(payments_seen) == 16


def test_a_document_written_before_the_clock_existed_still_gets_a_later_time(settings):
    FeedClock.objects.all().delete()
    first = _invoiced()
    FeedClock.objects.filter(feed="repairs.invoice").update(
        last_at=timezone.now() + timedelta(minutes=5)
    )  # a clock ahead of this server
    second = _invoiced()
    assert second.updated_at > first.updated_at
    assert second.updated_at > timezone.now()


@pytest.mark.postgresql
@pytest.mark.django_db(transaction=True)
def test_a_payment_committed_after_a_later_one_is_still_received_by_the_next_sync():
    """The gap, made to happen: payment A is written first and committed last; payment B is
    written after it and would commit first; a sync runs in between. A sync must not pass A."""
    client = _books()
    first, second = _invoiced("10"), _invoiced("10")
    _received, after = _sync(client, "payments")
    written, synced, b_done = threading.Event(), threading.Event(), threading.Event()
    errors = []

    def slow_payment():
        try:
            with transaction.atomic():
                services.record_payment(first, Decimal("1.00"), "card")
                written.set()
                synced.wait(timeout=5)  # the commit comes after the sync
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)
        finally:
            connection.close()

    def fast_payment():
        try:
            written.wait(timeout=5)
            services.record_payment(second, Decimal("1.00"), "card")
            b_done.set()
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=slow_payment), threading.Thread(target=fast_payment)]
    for thread in threads:
        thread.start()
    written.wait(timeout=5)
    b_done.wait(timeout=1)  # B waits for A's commit (the feed clock): it cannot be done yet
    seen_during, after = _sync(client, "payments", after)
    synced.set()
    for thread in threads:
        thread.join()
    seen_after, _after = _sync(client, "payments", after)

    assert not errors
    assert sorted(seen_during + seen_after) == sorted(Payment.objects.values_list("pk", flat=True))
    assert len(seen_during + seen_after) == 2


@pytest.mark.parametrize("position", ["4882-07-07 13:34:18+20:43", "yesterday", "12"])
def test_a_tampered_cursor_is_an_invalid_cursor_not_a_server_error(position):
    import base64
    from urllib.parse import urlencode

    _invoiced()
    cursor = base64.b64encode(urlencode({"p": position}).encode()).decode()
    response = _books().get("/api/v1/invoices/", {"cursor": cursor})
    assert response.status_code == 404
    assert response.json()["code"] == "not_found"


@pytest.mark.parametrize(
    ("params", "status"), [({"id__in": ""}, 400), ({"id__in": "1,x"}, 400), ({"cursor": ""}, 404)]
)
def test_an_empty_id_list_or_cursor_is_an_error_not_everything(params, status):
    _invoiced()
    response = _books().get("/api/v1/invoices/", params)
    assert response.status_code == status


def test_several_ids_select_those_rows():
    first, _second, third = _invoiced(), _invoiced(), _invoiced()
    response = _books().get("/api/v1/invoices/", {"id__in": f"{first.pk},{third.pk}"})
    assert [row["id"] for row in response.json()["results"]] == [first.pk, third.pk]


def _invoiced_for(customer):
    from tests.helpers.builders.repairs import make_vehicle

    order = make_order(make_vehicle(owner=customer), customer=customer)
    add_job_with_lines(order, labor=[("1", "100")])
    invoice = take_to(order, "invoiced").invoice
    services.issue_credit_note(invoice, Decimal("5.00"), "Goodwill")
    services.record_payment(invoice, Decimal("10.00"), "card")
    return invoice


def test_a_fleet_with_the_accounting_scope_reads_only_its_own_customers_money():
    from tests.helpers.builders.repairs import make_customer

    own = make_customer(kind="company", company_name="Fleet Co", first_name="", last_name="")
    stranger = make_customer(last_name="Stranger")
    mine, theirs = _invoiced_for(own), _invoiced_for(stranger)
    fleet, _key, plain = partner_with_key(name="Fleet", scopes=["repairs:read", "accounting:read"])
    fleet.customers.add(own)
    client = key_client(plain)

    for feed, model in FEEDS.items():
        listed = [row["id"] for row in client.get(f"/api/v1/{feed}/").json()["results"]]
        invoice_of = (lambda row: row) if model is Invoice else (lambda row: row.invoice)
        assert {invoice_of(row).pk for row in model.objects.filter(pk__in=listed)} == {mine.pk}
        other_row = theirs if model is Invoice else model.objects.get(invoice=theirs)
        response = client.get(f"/api/v1/{feed}/{other_row.pk}/")
        assert response.status_code == 404, feed
        assert response.json()["code"] == "not_found"
    response = client.get("/api/v1/invoices/", {"customer": stranger.pk})
    assert response.status_code == 200
    assert response.json()["results"] == []


def test_only_an_accounting_partner_reads_every_customers_invoices():
    from tests.helpers.builders.repairs import make_customer

    invoices = {_invoiced_for(make_customer(last_name=name)).pk for name in ("One", "Two")}
    for kind in ("fleet", "marketplace", "other"):
        _partner, _key, plain = partner_with_key(
            name=f"Not books {kind}", scopes=["accounting:read"], kind=kind
        )
        assert key_client(plain).get("/api/v1/invoices/").json()["results"] == [], kind

    listed = {row["id"] for row in _books().get("/api/v1/invoices/").json()["results"]}
    assert listed == invoices
