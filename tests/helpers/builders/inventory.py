"""Builders for tests of inventory and of the apps above it (repairs and sales tests need parts
and vehicles too). They go through the services, like the product does."""

from decimal import Decimal

from django.contrib.auth.models import Group

from accounts.models import Customer, User
from inventory import services
from inventory.models import Part, Supplier

TEST_PASSWORD = "not-a-real-password-42"

# Real-world shaped VINs with a correct check digit (North American) or none needed (Europe).
VALID_VINS = (
    "1HGCM82633A004352",  # Honda Accord 2003, USA
    "1G1YY22G965104377",  # Chevrolet Corvette 2006, USA
    "3VWFE21C04M000001",  # Volkswagen 2004, Mexico
    "JH4KA7561PC008269",  # Acura Legend 1993, Japan
    "WVWZZZ1JZXW000001",  # Volkswagen 1999, Germany (no check digit in Europe)
)


def make_staff(username, role=None, **fields):
    """A staff user in the role's group (None: no group at all)."""
    user = User.objects.create_user(
        username=username, password=TEST_PASSWORD, is_staff=True, **fields
    )
    if role is not None:
        user.groups.add(Group.objects.get(name=role))
    return user


def make_customer(last_name="Garcia", first_name="Maria", phone="(217) 555-0123", **fields):
    return Customer.objects.create(
        last_name=last_name, first_name=first_name, phone=phone, **fields
    )


def make_supplier(name="Main Street NAPA", **fields):
    return Supplier.objects.create(name=name, **fields)


def make_vehicle(vin=VALID_VINS[0], **details):
    return services.create_vehicle(vin, **details)


def make_part(sku="OIL-FILTER-1", *, on_hand=0, unit_cost="10.00", **fields):
    """A part; `on_hand` units are received at `unit_cost` through the ledger."""
    fields.setdefault("description", f"Part {sku}")
    part = Part.objects.create(sku=sku, unit_cost=Decimal(unit_cost), **fields)
    if on_hand:
        services.receive_part(part, on_hand, Decimal(unit_cost), reference="test:opening")
    return part


def admin_form_data(response):
    """The POST data of the admin add or change page in `response`, as a person submitting it
    unchanged would send it (main form and every inline, with their management forms)."""
    data = {}

    def add(form):
        for bound in form:
            value = bound.value()
            if isinstance(value, bool):
                if value:
                    data[bound.html_name] = "on"
            elif value is not None:
                data[bound.html_name] = value

    add(response.context["adminform"].form)
    for inline in response.context["inline_admin_formsets"]:
        add(inline.formset.management_form)
        for form in inline.formset.forms:
            add(form)
    return data
