"""The API lists the benchmarks time, each with its bare twin: the same rows, in the same order,
straight from .values() (bench/bare.py).

An endpoint whose URL is not there (its app not installed) is left out of the run.
"""

import datetime

from django.db.models.functions import Coalesce

from bench.bare import BARE_LISTS
from bench.pages import ApiPage

# The accounting sync's window: invoices that entered the feed in the last 30 days of the data.
SYNC_DAYS = 30


def _partner(slug):
    from accounts.models import Partner

    return Partner.objects.get(slug=slug)


def register_bare(name):
    def decorate(function):
        BARE_LISTS[name] = function
        return function

    return decorate


@register_bare("listings")
def listings(request, size):
    from inventory.models import StockUnit

    return (
        StockUnit.objects.filter(status=StockUnit.Status.AVAILABLE)
        .annotate(price=Coalesce("internet_price", "asking_price"))
        .filter(price__isnull=False)
        .order_by("id")
        .values(
            "id",
            "stock_number",
            "price",
            "acquired_on",
            "vehicle__vin",
            "vehicle__make",
            "vehicle__model",
            "vehicle__model_year",
            "vehicle__trim",
            "vehicle__engine",
            "vehicle__color",
            "vehicle__odometer",
        )[:size]
    )


# The location the location-filtered lists ask for (`?location=`): a shop of the group.
LOCATION = "east"


@register_bare("fleet repair orders")
@register_bare(f"fleet repair orders, location {LOCATION}")
def fleet_repair_orders(request, size):
    from accounts.models import Location
    from repairs.models import RepairOrder

    partner = _partner("bench-fleet")
    customers = list(partner.customers.values_list("pk", flat=True))
    orders = RepairOrder.objects.filter(
        internal=False,
        customer_id__in=customers,
        vehicle__owner_id__in=customers,
    )  # the partner is linked to every location of the data set
    if "location" in request.GET:  # as the API's filter: the location's id found first
        location = Location.objects.get(code__iexact=request.GET["location"])
        orders = orders.filter(location_id=location.pk)
    return orders.order_by("updated_at", "id").values(
        "id",
        "number",
        "status",
        "vehicle__vin",
        "vehicle__make",
        "vehicle__model",
        "customer__display_name",
        "odometer_in",
        "opened_at",
        "status_changed_at",
        "updated_at",
    )[:size]


def sync_since():
    """The start of the accounting sync's window: SYNC_DAYS before the newest invoice."""
    from repairs.models import Invoice

    newest = Invoice.objects.order_by("-updated_at").values_list("updated_at", flat=True).first()
    return (newest or datetime.datetime.now(datetime.UTC)) - datetime.timedelta(days=SYNC_DAYS)


@register_bare("invoices updated since")
def invoices_since(request, size):
    from repairs.models import Invoice

    since = datetime.datetime.fromisoformat(request.GET["updated_since"])
    return (
        Invoice.objects.filter(updated_at__gte=since)
        .order_by("updated_at")
        .values(
            "id",
            "number",
            "issued_at",
            "repair_order",
            "repair_order__number",
            "customer",
            "customer__display_name",
            "labor_total",
            "parts_total",
            "discount_total",
            "fees_total",
            "tax_total",
            "total",
            "updated_at",
        )[:size]
    )


@register_bare("leads")
def leads(request, size):
    from sales.models import Lead

    return (
        Lead.objects.filter(partner=_partner("bench-market"))
        .order_by("id")
        .values(
            "id",
            "status",
            "source_reference",
            "stock_unit",
            "message",
            "customer__display_name",
            "customer__email",
            "created_at",
            "updated_at",
        )[:size]
    )


def api_pages():
    from accounts import scopes

    pages = [
        ApiPage("listings", "api:listing-list", "bench-market", scopes.LISTINGS_READ),
        ApiPage("fleet repair orders", "api:repair-order-list", "bench-fleet", scopes.REPAIRS_READ),
        ApiPage(
            "invoices updated since", "api:invoice-list", "bench-books", scopes.ACCOUNTING_READ
        ),
        ApiPage("leads", "api:lead-list", "bench-market", scopes.LEADS_WRITE),
        ApiPage(
            f"fleet repair orders, location {LOCATION}",
            "api:repair-order-list",
            "bench-fleet",
            scopes.REPAIRS_READ,
            {"location": LOCATION},
        ),
    ]
    pages = [page for page in pages if page.available()]
    for page in pages:
        if page.label == "invoices updated since":
            page.params = {"updated_since": sync_since().isoformat()}
    return pages
