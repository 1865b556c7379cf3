"""Demo data for accounts: a group of two service shops (Main Street Auto, the default location,
and East Side Service), one login per role, and a customer book shared by both shops."""

from decimal import Decimal

from accounts.models import Customer, Location, ShopSettings, User
from accounts.roles import (
    MANAGER,
    OPERATIONS,
    PARTNER,
    SALESPERSON,
    SERVICE_ADVISOR,
    TECHNICIAN,
)

DEMO_PASSWORD = "carshop-demo"  # noqa: S105 - demo only; seed_demo refuses to run in production

DEMO_USERS = [
    # username, first, last, role, is_staff, is_superuser
    ("admin", "Alex", "Admin", None, True, True),
    ("advisor", "Sam", "Advisor", SERVICE_ADVISOR, True, False),
    ("tech", "Terry", "Tech", TECHNICIAN, True, False),
    ("tech2", "Morgan", "Wrench", TECHNICIAN, True, False),
    ("sales", "Pat", "Seller", SALESPERSON, True, False),
    ("sales2", "Jordan", "Closer", SALESPERSON, True, False),
    ("manager", "Robin", "Manager", MANAGER, True, False),
    ("ops", "Casey", "Operator", OPERATIONS, True, False),
    ("partner", "Fleet", "Partner", PARTNER, False, False),
    # The second shop's own staff: their home is East Side Service, and only it.
    ("eastadvisor", "Dana", "Eastman", SERVICE_ADVISOR, True, False),
    ("easttech", "Lee", "Torque", TECHNICIAN, True, False),
]
# Where each demo login works besides the default location (its home when it has none):
# username -> (home location code, other location codes).
EAST = "east"
DEMO_LOCATIONS = {
    "eastadvisor": (EAST, ()),
    "easttech": (EAST, ()),
    "manager": (None, (EAST,)),  # the manager runs both shops: the header offers a chooser
}

FIRST = [
    "James",
    "Maria",
    "Robert",
    "Linda",
    "Michael",
    "Patricia",
    "David",
    "Jennifer",
    "Carlos",
    "Aisha",
    "Wei",
    "Fatima",
    "Daniel",
    "Olga",
    "Kwame",
    "Sofia",
    "Ahmed",
    "Emily",
    "Noah",
    "Grace",
]
LAST = [
    "Smith",
    "Garcia",
    "Johnson",
    "Brown",
    "Nguyen",
    "Martinez",
    "Lee",
    "Wilson",
    "Patel",
    "Anderson",
    "Thomas",
    "Kim",
    "Lopez",
    "Clark",
    "Lewis",
    "Walker",
    "Young",
    "Hall",
]
COMPANIES = [
    "Acme Plumbing",
    "Blue River Logistics",
    "City Cab Co",
    "Green Valley Farms",
    "Metro Delivery",
    "Northside Electric",
    "Sunrise Bakery",
    "Tri-County Rentals",
]
CITIES = [("Springfield", "IL", "62701"), ("Riverton", "WY", "82501"), ("Fairview", "TN", "37062")]


def seed_locations(one_shop=False):
    """The default location is Main Street Auto; East Side Service is a second service shop
    across town, with its own header and a higher labor rate (not with `one_shop`: the demo of
    a single-shop install). Returns {code: location}."""
    shop = ShopSettings.current()
    shop.name, shop.address = "Main Street Auto", "100 Main Street\nSpringfield, IL 62701"
    shop.phone, shop.email = "(217) 555-0100", "service@mainstreet.example"
    shop.tax_id = "12-3456789"
    shop.save()
    main = Location.default()
    if main.name != shop.name and not Location.objects.filter(name=shop.name).exists():
        main.name = shop.name
        main.save(update_fields=["name"])
    if one_shop:
        return {"main": main}

    east, _ = Location.objects.get_or_create(
        code=EAST,
        defaults={
            "name": "East Side Service",
            "kind": Location.Kind.SHOP,
            "hours": "Mon-Fri 7:00-18:00\nSat 8:00-12:00",
        },
    )
    settings = ShopSettings.of(east)
    settings.name, settings.address = (
        "East Side Service",
        "2200 East Ash Avenue\nSpringfield, IL 62703",
    )
    settings.phone, settings.email = "(217) 555-0300", "service@eastside.example"
    settings.tax_id = "12-3456789"
    settings.labor_rate = Decimal("135.00")
    settings.save()
    return {"main": main, EAST: east}


def seed(rng, scale, context):
    from django.contrib.auth.models import Group

    locations = seed_locations(one_shop=context.get("one_shop", False))
    context["locations"] = locations

    users = {}
    for username, first, last, role, is_staff, is_superuser in DEMO_USERS:
        home, others = DEMO_LOCATIONS.get(username, (None, ()))
        if (home or "main") not in locations:
            continue  # a login of the second shop, in the demo of one shop
        user, _ = User.objects.get_or_create(
            username=username,
            defaults={
                "first_name": first,
                "last_name": last,
                "is_staff": is_staff,
                "is_superuser": is_superuser,
                "email": f"{username}@mainstreet.example",
            },
        )
        user.set_password(DEMO_PASSWORD)
        user.save()
        if role:
            user.groups.set([Group.objects.get(name=role)])
        if username in DEMO_LOCATIONS:
            user.home_location = locations[home] if home else None
            user.save(update_fields=["home_location"])
            user.locations.set([locations[code] for code in others if code in locations])
        users[username] = (user, role or "superuser")
    context["users"] = {name: user for name, (user, _) in users.items()}
    context["logins"] = [(name, role) for name, (_, role) in users.items()]

    customers = []
    for index in range(60 * scale):
        city, region, postal = rng.choice(CITIES)
        if index % 8 == 7:
            name = rng.choice(COMPANIES) + ("" if index < 64 else f" #{index}")
            customer = Customer(
                kind=Customer.Kind.COMPANY,
                company_name=name,
                tax_id=f"{rng.randint(10, 99)}-{rng.randint(1000000, 9999999)}",
            )
        else:
            customer = Customer(first_name=rng.choice(FIRST), last_name=rng.choice(LAST))
        customer.phone = f"({rng.randint(200, 989)}) 555-{rng.randint(0, 9999):04d}"
        customer.email = f"customer{index}@example.com"
        customer.address_line = f"{rng.randint(1, 9999)} {rng.choice(['Oak', 'Elm', 'Pine'])} St"
        customer.city, customer.region, customer.postal_code = city, region, postal
        customer.consent_reminders = rng.random() < 0.7
        customers.append(customer)
    for customer in customers:
        customer.save()
    context["customers"] = customers

    keys = seed_partners(customers, context["users"]["manager"], locations)
    lines = "".join(f"\n  API key of {name} ({scopes}): {plain}" for name, scopes, plain in keys)
    return f"{len(users)} users, {len(customers)} customers, {len(keys)} partners{lines}"


def seed_partners(customers, manager, locations):
    """A fleet partner following its companies' cars (and their bills) at both shops, a
    marketplace of the lot (at Main Street Auto), and the group's accounting system, which alone
    reads every customer's invoices, of both shops. Keys are shown once."""
    from accounts import scopes, services
    from accounts.models import Partner

    companies = [c for c in customers if c.kind == Customer.Kind.COMPANY][:3]
    group = list(locations.values())
    fleet = services.create_partner(
        "Metro Fleet Services", kind=Partner.Kind.FLEET, customers=companies, locations=group
    )
    market = services.create_partner(
        "AutoMarket", kind=Partner.Kind.MARKETPLACE, locations=[locations["main"]]
    )
    books = services.create_partner(
        "Ledgerline Books", kind=Partner.Kind.ACCOUNTING, locations=group
    )
    keys = []
    for partner, granted in (
        # accounting:read gives a fleet its linked customers' invoices and payments only.
        (fleet, [scopes.REPAIRS_READ, scopes.ACCOUNTING_READ]),
        (market, [scopes.LISTINGS_READ, scopes.LEADS_WRITE]),
        (books, [scopes.ACCOUNTING_READ]),
    ):
        _, plain = services.issue_key(partner, name="demo", scopes=granted, created_by=manager)
        keys.append((partner.name, " ".join(granted), plain))
    return keys
