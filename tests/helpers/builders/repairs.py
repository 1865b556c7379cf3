"""Builders for tests of the service shop: customers, vehicles with valid VINs, stocked parts,
staff of a role, and repair orders taken to any status through the real services."""

import itertools
from decimal import Decimal

from django.contrib.auth.models import Group

from accounts.models import Customer, ShopSettings, User
from inventory import services as inventory_services
from inventory.models import Part, Vehicle
from inventory.vin import check_digit
from repairs import services
from repairs.choices import Authorization, AuthorizationMethod

_serials = itertools.count(100001)


def valid_vin(serial=None):
    """A North American VIN with a correct check digit (Honda-like prefix, model year A)."""
    serial = next(_serials) if serial is None else serial
    vin = f"1HGCM8260A{serial:07d}"
    return vin[:8] + check_digit(vin) + vin[9:]


def set_rates(**rates):
    """Shop settings with the given rates (percents and amounts as strings or Decimals)."""
    shop = ShopSettings.current()
    for name, value in rates.items():
        setattr(shop, name, value if name == "estimate_link_days" else Decimal(str(value)))
    shop.save()
    return shop


def make_customer(last_name="Garcia", first_name="Maria", **fields):
    return Customer.objects.create(
        first_name=first_name,
        last_name=last_name,
        phone=fields.pop("phone", "(217) 555-0142"),
        **fields,
    )


def make_vehicle(owner=None, **fields):
    fields.setdefault("make", "Honda")
    fields.setdefault("model", "Accord")
    fields.setdefault("model_year", 2003)
    return Vehicle.objects.create(vin=fields.pop("vin", None) or valid_vin(), owner=owner, **fields)


def make_part(
    sku="OF-100",
    *,
    cost="4.00",
    price="9.50",
    on_hand=10,
    taxable=True,
    description=None,
    bin_location="",
):
    part = Part.objects.create(
        sku=sku,
        bin_location=bin_location,
        description=description or f"Part {sku}",
        unit_cost=Decimal(cost),
        taxable=taxable,
        price_override=Decimal(price) if price is not None else None,
    )
    if on_hand:
        inventory_services.adjust_stock(part, on_hand, reason="opening stock")
        part.refresh_from_db()
    return part


def make_staff(username, role=None, **fields):
    user = User.objects.create_user(
        username=username,
        password="a-long-test-password",
        is_staff=True,
        first_name=fields.pop("first_name", username.title()),
        **fields,
    )
    if role:
        user.groups.add(Group.objects.get(name=role))
    return user


def make_order(vehicle=None, *, customer=None, user=None, **fields):
    if vehicle is None:
        customer = customer or make_customer()
        vehicle = make_vehicle(owner=customer)
    return services.create_repair_order(
        vehicle, customer=customer, user=user, **fields
    ).repair_order


def add_job_with_lines(
    order, *, title="Front brakes", labor=(), parts=(), technician=None, approve=True, user=None
):
    """A job with labor (hours, rate) and parts (part, quantity, price) lines, approved by the
    customer in person unless approve=False."""
    job = services.add_job(order, title=title, complaint=f"{title} needed", user=user)
    for hours, rate in labor:
        services.add_labor_line(
            job,
            operation=f"{title} labor",
            hours_sold=Decimal(str(hours)),
            rate=Decimal(str(rate)),
            technician=technician,
            user=user,
        )
    for part, quantity, price in parts:
        services.add_part_line(
            job, part, quantity, price=None if price is None else Decimal(str(price)), user=user
        )
    if approve and job.authorization == Authorization.PENDING:
        services.authorize_job(
            job,
            Authorization.APPROVED,
            method=AuthorizationMethod.IN_PERSON,
            authorized_by="Maria Garcia",
            user=user,
        )
    job.refresh_from_db()
    return job


def take_to(order, status, *, user=None):
    """Move an order forward through the services until it reaches `status`."""
    steps = {
        "approved": [services.approve_repair_order],
        "in_progress": [services.approve_repair_order, services.start_work],
        "completed": [services.approve_repair_order, services.start_work, services.complete_work],
        "invoiced": [
            services.approve_repair_order,
            services.start_work,
            services.complete_work,
            services.invoice_repair_order,
        ],
    }
    for step in steps[status]:
        step(order, user=user)
    order.refresh_from_db()
    return order
