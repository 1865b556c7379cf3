"""The pages the benchmarks time: admin lists, searches and change pages, and API lists.

Search terms come from the data itself (an order in the middle of the table: its number, its
vehicle's VIN tail and plate, its customer's name), so every search finds something.
"""

from dataclasses import dataclass, field

from django.apps import apps
from django.urls import NoReverseMatch, reverse


@dataclass
class AdminPage:
    label: str  # e.g. "repair orders: search by VIN tail"
    model: str  # app_label.ModelName
    kind: str  # list, search, change
    user: str  # username logged in
    params: dict = field(default_factory=dict)
    object_id: int | None = None
    # The location chosen in the header (its code, or "all"), as the session keeps it; None:
    # the user's own start (their home location).
    location: str | None = None

    def url(self, site="admin"):
        app_label, model_name = self.model.lower().split(".")
        if self.kind == "change":
            return reverse(f"{site}:{app_label}_{model_name}_change", args=[self.object_id])
        return reverse(f"{site}:{app_label}_{model_name}_changelist")

    @property
    def model_class(self):
        return apps.get_model(self.model)


def _model(label):
    try:
        return apps.get_model(label)
    except LookupError:
        return None


def _middle(model, **filters):
    """A row in the middle of the table (by id), optionally among those matching `filters`."""
    queryset = model._default_manager.filter(**filters).order_by("pk")
    bounds = model._default_manager.order_by("pk").values_list("pk", flat=True)
    last = bounds.last()
    if last is None:
        return None
    return queryset.filter(pk__gte=last // 2).first() or queryset.first()


def _home(username):
    """The home location of `username` (the default location when none is set)."""
    from accounts.models import Location, User

    home = User.objects.filter(username=username).values_list("home_location", flat=True).first()
    return home or Location.default().pk


def surname(customer):
    name = customer.display_name
    return (name.split(",")[0] if "," in name else name.split()[0]).strip().lower()


def admin_pages(advisor="advisor", salesperson="sales", manager="manager"):
    from repairs.models import RepairOrder

    pages = []
    # Rows of the user's own location: another location's change page is not found there.
    order = _middle(RepairOrder, internal=False, vehicle__plate__gt="", location_id=_home(advisor))
    if order is None:
        return pages
    vehicle, customer = order.vehicle, order.customer
    vin_tail = vehicle.vin[-6:]
    pages += [
        AdminPage("repair orders: list", "repairs.RepairOrder", "list", advisor),
        AdminPage(
            "repair orders: search VIN tail",
            "repairs.RepairOrder",
            "search",
            advisor,
            {"q": vin_tail},
        ),
        AdminPage(
            "repair orders: search plate",
            "repairs.RepairOrder",
            "search",
            advisor,
            {"q": vehicle.plate},
        ),
        AdminPage(
            "repair orders: search customer name",
            "repairs.RepairOrder",
            "search",
            advisor,
            {"q": surname(customer)},
        ),
        AdminPage(
            "repair orders: search RO number",
            "repairs.RepairOrder",
            "search",
            advisor,
            {"q": order.number},
        ),
        AdminPage(
            "repair orders: change page",
            "repairs.RepairOrder",
            "change",
            advisor,
            object_id=order.pk,
        ),
        AdminPage("vehicles: list", "inventory.Vehicle", "list", advisor),
        AdminPage(
            "vehicles: search VIN tail", "inventory.Vehicle", "search", advisor, {"q": vin_tail}
        ),
        AdminPage(
            "vehicles: search plate", "inventory.Vehicle", "search", advisor, {"q": vehicle.plate}
        ),
        AdminPage(
            "vehicles: search owner name",
            "inventory.Vehicle",
            "search",
            advisor,
            {"q": surname(customer)},
        ),
        AdminPage(
            "vehicles: change page", "inventory.Vehicle", "change", advisor, object_id=vehicle.pk
        ),
        AdminPage("customers: list", "accounts.Customer", "list", advisor),
        AdminPage(
            "customers: search name",
            "accounts.Customer",
            "search",
            advisor,
            {"q": surname(customer)},
        ),
        AdminPage(
            "customers: search phone",
            "accounts.Customer",
            "search",
            advisor,
            {"q": customer.phone[-8:]},
        ),
        AdminPage(
            "customers: change page", "accounts.Customer", "change", advisor, object_id=customer.pk
        ),
    ]
    from inventory.models import Part

    part = order.jobs.first().part_lines.select_related("part").first()
    part = part.part if part is not None else _middle(Part)
    pages += [
        AdminPage("parts: list", "inventory.Part", "list", advisor),
        AdminPage("parts: search SKU", "inventory.Part", "search", advisor, {"q": part.sku}),
        AdminPage(
            "parts: search description",
            "inventory.Part",
            "search",
            advisor,
            {"q": part.description.split(" (")[0].split()[-1].lower()},
        ),
        AdminPage("parts: change page", "inventory.Part", "change", advisor, object_id=part.pk),
    ]
    pages += location_pages(manager)
    stock_unit = _model("inventory.StockUnit")
    if stock_unit is not None and stock_unit._default_manager.exists():
        unit = _middle(stock_unit, location_id=_home(salesperson)) or _middle(stock_unit)
        pages += [
            AdminPage("stock units: list", "inventory.StockUnit", "list", salesperson),
            AdminPage(
                "stock units: search VIN tail",
                "inventory.StockUnit",
                "search",
                salesperson,
                {"q": unit.vehicle.vin[-6:]},
            ),
            AdminPage(
                "stock units: change page",
                "inventory.StockUnit",
                "change",
                salesperson,
                object_id=unit.pk,
            ),
        ]
    deal_model = _model("sales.Deal")
    if deal_model is not None and deal_model._default_manager.exists():
        lot = _home(salesperson)
        deal = _middle(deal_model, stock_unit__location_id=lot) or _middle(deal_model)
        pages += [
            AdminPage("deals: list", "sales.Deal", "list", salesperson),
            AdminPage(
                "deals: search buyer name",
                "sales.Deal",
                "search",
                salesperson,
                {"q": surname(deal.buyer)},
            ),
            AdminPage(
                "deals: search VIN tail",
                "sales.Deal",
                "search",
                salesperson,
                {"q": deal.stock_unit.vehicle.vin[-6:]},
            ),
            AdminPage("deals: change page", "sales.Deal", "change", salesperson, object_id=deal.pk),
        ]
    return pages


@dataclass
class ApiPage:
    label: str
    url_name: str  # the API list's URL name
    partner: str  # slug of the bench partner whose key reads it
    scope: str
    params: dict = field(default_factory=dict)

    def url(self):
        return reverse(self.url_name)

    def available(self):
        try:
            self.url()
        except NoReverseMatch:
            return False
        return True


def location_pages(manager="manager"):
    """Lists of a group, read by someone who works at every location: with one location chosen
    in the header (a shop other than the default one) and with all of them."""
    from accounts.models import Location

    shop = (
        Location.objects.exclude(pk=Location.default().pk)
        .filter(kind__in=["shop", "both"])
        .order_by("pk")
        .first()
    )
    if shop is None:
        return []  # a single-shop install has no chooser
    return [
        AdminPage(
            f"repair orders: list, {shop.code} chosen",
            "repairs.RepairOrder",
            "list",
            manager,
            location=shop.code,
        ),
        AdminPage(
            "repair orders: list, all locations",
            "repairs.RepairOrder",
            "list",
            manager,
            location="all",
        ),
        AdminPage(
            f"invoices: list, {shop.code} chosen",
            "repairs.Invoice",
            "list",
            manager,
            location=shop.code,
        ),
        AdminPage(
            f"invoices: search number, {shop.code} chosen",
            "repairs.Invoice",
            "search",
            manager,
            {"q": _middle_number(shop)},
            location=shop.code,
        ),
    ]


def _middle_number(location):
    from repairs.models import Invoice

    invoice = _middle(Invoice, location=location)
    return invoice.number if invoice is not None else ""
