"""List pages of listings, repair orders, invoices and leads are built from `.values()` rows
(core/api/rows.py); one row reads, and the same formats come out, exactly as the serializer's
fields give them field by field: each row of a list page equals the same record's detail page
(served field by field from a model instance) and the declared fields' own output."""

import datetime
from decimal import Decimal

import pytest
from django.core.files.base import ContentFile
from django.utils import timezone
from rest_framework import serializers

from core.api.rows import RowFormats
from inventory.models import StockUnitPhoto
from repairs import services
from repairs.models import Invoice
from sales import services as sales_services
from sales.models import Lead
from tests.helpers.api import ALL_SCOPES, key_client, partner_with_key
from tests.helpers.builders.lot import make_unit
from tests.helpers.builders.repairs import (
    add_job_with_lines,
    make_customer,
    make_order,
    make_part,
    make_vehicle,
    take_to,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    return tmp_path


def _photo(unit, name, **fields):
    photo = StockUnitPhoto(unit=unit, **fields)
    photo.image.save(name, ContentFile(b"\xff\xd8\xff fake jpeg"), save=False)
    photo.save()
    return photo


def _partner():
    """A partner with every scope, linked to a fleet customer."""
    partner, _key, plain = partner_with_key(name="Everything Inc", scopes=ALL_SCOPES)
    customer = make_customer(
        kind="company", company_name="Acme Logistics", first_name="", last_name=""
    )
    partner.customers.add(customer)
    return partner, customer, key_client(plain)


def _orders(customer):
    """Orders in several states: open without invoice or promise, invoiced with a payment and
    a credit note, completed with a declined job."""
    orders = []
    part = make_part(sku="BP-1", cost="30.00", price="55.00")
    for index, status in enumerate(["estimate", "completed", "invoiced", "invoiced"]):
        vehicle = make_vehicle(owner=customer, plate=f"FLT {index:03d}")
        order = make_order(vehicle, customer=customer)
        if index % 2:
            order.promised_at = timezone.now() + datetime.timedelta(days=1, microseconds=7)
            order.save(update_fields=["promised_at"])
        add_job_with_lines(
            order, title="Front brakes", labor=[("1.5", "120")], parts=[(part, 1, None)]
        )
        declined = services.add_job(order, title="Wiper blades", complaint="Streaks")
        services.authorize_job(declined, "declined", method="phone", authorized_by="Fleet desk")
        if status != "estimate":
            take_to(order, status)
        orders.append(order)
    invoice = orders[2].invoice
    services.record_payment(invoice, Decimal("50.00"), "card")
    services.issue_credit_note(invoice, Decimal("10.00"), "Goodwill")
    return orders


def _list_matches_detail(client, url, count, params=None):
    page = client.get(url, {"page_size": 200, **(params or {})})
    assert page.status_code == 200, page.json()
    rows = page.json()["results"]
    assert len(rows) == count
    for row in rows:
        detail = client.get(f"{url}{row['id']}/")
        assert detail.status_code == 200
        assert row == detail.json()
    return rows


@pytest.mark.parametrize("zone", ["America/New_York", "UTC"])
def test_list_rows_equal_the_detail_pages_field_by_field(settings, media, zone):
    settings.TIME_ZONE = zone
    partner, customer, client = _partner()
    _orders(customer)
    plain = make_unit(asking="14500.00", days_ago=12)
    online = make_unit(asking="15000.00", internet_price=Decimal("13990.50"), days_ago=3)
    _photo(online, "side.jpg", position=2, caption="Side")
    _photo(online, "front.jpg", position=1, is_main=True)
    _photo(plain, "back.jpg", position=1)
    for unit, message in [(plain, "Still there?"), (online, "")]:
        sales_services.create_partner_lead(
            partner,
            stock_unit=unit,
            message=message,
            source_reference="ref-1",
            first_name="Jo",
            last_name="",
            email="jo@example.com",
            phone="",
        )
    assert Lead.objects.filter(partner=partner).count() == 2

    orders = _list_matches_detail(client, "/api/v1/repair-orders/", 4)
    assert {order["invoice"] is None for order in orders} == {True, False}
    assert any(order["invoice"] and order["invoice"]["credited"] == "10.00" for order in orders)
    invoices = _list_matches_detail(client, "/api/v1/invoices/", Invoice.objects.count())
    assert invoices[0]["total"].endswith(tuple("0123456789")) and "." in invoices[0]["total"]
    _list_matches_detail(
        client,
        "/api/v1/invoices/",
        Invoice.objects.count(),
        {"updated_since": "2000-01-01T00:00:00Z"},
    )
    listings = _list_matches_detail(client, "/api/v1/listings/", 2)
    assert [len(listing["photos"]) for listing in listings] == [1, 2]
    assert listings[1]["main_photo_url"].endswith(".jpg")
    _list_matches_detail(client, "/api/v1/leads/", 2)
    if zone == "UTC":
        assert orders[0]["opened_at"].endswith("Z")


def test_list_rows_equal_the_declared_fields_output():
    """The fast rows against the serializer's fields run on the same records' instances (the
    queryset of the view, as before the change)."""
    _owner, customer, client = _partner()
    _orders(customer)
    from repairs.api.serializers import InvoiceSerializer, RepairOrderSerializer
    from repairs.api.views import InvoiceViewSet, RepairOrderViewSet

    for url, view, serializer_class in [
        ("/api/v1/repair-orders/", RepairOrderViewSet, RepairOrderSerializer),
        ("/api/v1/invoices/", InvoiceViewSet, InvoiceSerializer),
    ]:
        rows = client.get(url).json()["results"]
        instances = {instance.pk: instance for instance in view.queryset.all()}
        for row in rows:
            instance = instances[row["id"]]
            expected = serializers.ModelSerializer.to_representation(
                serializer_class(context={"request": None}), instance
            )
            assert row == dict(expected)


def test_row_formats_are_drfs_formats(settings):
    settings.TIME_ZONE = "Europe/Paris"
    formats = RowFormats()
    money = serializers.DecimalField(max_digits=12, decimal_places=2)
    for value in [
        Decimal("12.50"),
        Decimal("12.5"),
        Decimal("12"),
        Decimal("-0.00"),
        Decimal("1E+2"),
        Decimal("0.005"),
        Decimal("9999999999.99"),
    ]:
        assert formats.money(value) == money.to_representation(value)
    assert formats.money(None) is None
    moments = serializers.DateTimeField()
    for value in [
        datetime.datetime(2026, 3, 29, 0, 59, 59, 999999, tzinfo=datetime.UTC),
        datetime.datetime(2026, 3, 29, 1, 0, tzinfo=datetime.UTC),
        datetime.datetime(2026, 10, 25, 1, 30, tzinfo=datetime.UTC),
        datetime.datetime(
            2026, 7, 1, 12, 0, 0, 123, tzinfo=datetime.timezone(datetime.timedelta(hours=-5))
        ),
        datetime.datetime(2026, 7, 1, 12, 0),
    ]:
        assert formats.datetime(value) == moments.to_representation(value)
    with timezone.override(datetime.UTC):
        utc = RowFormats()
        value = datetime.datetime(2026, 7, 1, 12, 0, tzinfo=datetime.UTC)
        assert utc.datetime(value) == moments.to_representation(value) == "2026-07-01T12:00:00Z"
    assert formats.date(datetime.date(2026, 2, 3)) == "2026-02-03"
    assert formats.datetime(None) is None and formats.date(None) is None
