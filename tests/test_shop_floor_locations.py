"""The shop floor belongs to a location: each location numbers its own repair orders, invoices
and credit notes, prices them with its own settings, and a member of staff or a partner of one
location neither sees nor changes another's orders, appointments, time, invoices, credit notes
or payments."""

from decimal import Decimal as D

import pytest
from django.urls import reverse
from django.utils import timezone

from accounts import roles
from accounts.models import Location, ShopSettings
from accounts.scopes import ACCOUNTING_READ, REPAIRS_READ
from inventory import services as inventory_services
from inventory.models import PartStock
from repairs import services
from repairs.exceptions import RepairError
from repairs.models import Appointment, CreditNote, Invoice, Payment, RepairOrder, TimeEntry
from tests.helpers.api import key_client, partner_with_key
from tests.helpers.barrier import raised, run_together
from tests.helpers.builders.inventory import make_customer
from tests.helpers.builders.repairs import (
    add_job_with_lines,
    make_order,
    make_part,
    make_staff,
    make_vehicle,
    take_to,
)

pytestmark = pytest.mark.django_db


def _east():
    Location.default()  # the group's first location exists before the second
    east = Location.objects.create(code="east", name="East Shop", kind=Location.Kind.SHOP)
    ShopSettings.of(east)
    return east


def _invoiced(location, technician=None):
    """An order of `location` invoiced, part paid, part credited, with a technician's time."""
    order = make_order(location=location)
    job = add_job_with_lines(order, labor=[("2.0", "100.00")], technician=technician)
    take_to(order, "in_progress")
    if technician is not None:
        services.clock_in(technician, job)
        services.clock_out(technician)
    services.complete_work(order)
    invoice = services.invoice_repair_order(order)
    services.record_payment(invoice, D("10.00"), "cash")
    services.issue_credit_note(invoice, D("5.00"), "goodwill")
    return order


def _appointment(location):
    customer = make_customer(last_name=f"Booked {location.code}")
    return services.save_appointment(
        Appointment(
            location=location,
            date=timezone.localdate() + timezone.timedelta(days=3),
            time=timezone.datetime(2000, 1, 1, 9).time(),
            customer=customer,
            vehicle=make_vehicle(owner=customer),
            concern="Noise",
        )
    )


@pytest.fixture
def shops(db):
    """The default location and a second shop, each with an invoiced order (paid in part,
    credited in part, with time clocked) and an appointment."""
    main = Location.default()
    east = _east()
    tech = make_staff("tara", roles.TECHNICIAN)
    tech.locations.add(east)  # works at both: clocks on both shops' orders
    rows = {}
    for location in (main, east):
        order = _invoiced(location, technician=tech)
        rows[location.code] = {
            "repairorder": order,
            "appointment": _appointment(location),
            "timeentry": TimeEntry.objects.get(job__repair_order=order),
            "invoice": order.invoice,
            "payment": Payment.objects.get(invoice__repair_order=order),
            "creditnote": CreditNote.objects.get(invoice__repair_order=order),
        }
    return main, east, rows


# -- numbers and rates ----------------------------------------------------------------------


def test_each_location_numbers_its_own_orders_invoices_and_credit_notes(shops):
    _main, east, rows = shops
    year = timezone.localdate().year
    assert rows["main"]["repairorder"].number == f"RO-{year}-00001"
    assert rows["east"]["repairorder"].number == f"EAST-RO-{year}-00001"
    assert rows["main"]["invoice"].number == f"{year}-000001"
    assert rows["east"]["invoice"].number == f"EAST-{year}-000001"
    assert (rows["main"]["invoice"].sequence, rows["east"]["invoice"].sequence) == (1, 1)
    assert rows["east"]["creditnote"].number == f"EAST-CN-{year}-00001"
    assert rows["east"]["invoice"].location == east
    assert rows["east"]["creditnote"].location == east
    assert rows["east"]["timeentry"].location == east
    # The next order of the default location follows its own series.
    assert make_order().number == f"RO-{year}-00002"


def test_an_invoice_is_priced_and_headed_by_its_locations_settings(db):
    main = Location.default()
    east = _east()
    for location, tax, name in ((main, "0", "Main St"), (east, "10", "East Shop")):
        settings = ShopSettings.of(location)
        settings.labor_tax_rate, settings.name = D(tax), name
        settings.save()
    totals = {}
    for location in (main, east):
        order = make_order(location=location)
        add_job_with_lines(order, labor=[("1.0", "100.00")])
        invoice = take_to(order, "invoiced").invoice
        totals[location.code] = (invoice.tax_total, invoice.snapshot["shop"]["name"])
    assert totals["main"][0] == D("0.00")
    assert totals["east"][0] == D("10.00")
    assert (totals["main"][1], totals["east"][1]) == ("Main St", "East Shop")


def test_a_new_order_takes_its_locations_labor_rate(db):
    east = _east()
    settings = ShopSettings.of(east)
    settings.labor_rate = D("155.00")
    settings.save()
    order = make_order(location=east)
    assert services.default_labor_rate(order) == D("155.00")
    assert services.default_labor_rate(make_order()) != D("155.00")


def test_an_inactive_location_takes_no_new_order(db):
    east = _east()
    Location.objects.filter(pk=east.pk).update(is_active=False)
    east.refresh_from_db()
    with pytest.raises(RepairError, match="inactive"):
        make_order(location=east)


# -- who sees what: every role, every model of the shop floor --------------------------------

MODELS = ("repairorder", "appointment", "timeentry", "invoice", "payment", "creditnote")
ROLES = (roles.SERVICE_ADVISOR, roles.TECHNICIAN, roles.MANAGER, roles.OPERATIONS)


@pytest.mark.parametrize("role", ROLES)
def test_staff_of_one_location_neither_see_nor_change_anothers_rows(client, shops, role):
    rows = shops[2]
    user = make_staff(f"user-{role.split()[0].lower()}", role)  # home: the default location
    client.force_login(user)
    for model in MODELS:
        theirs = rows["east"][model]
        change = reverse(f"admin:repairs_{model}_change", args=[theirs.pk])
        listed = client.get(reverse(f"admin:repairs_{model}_changelist"))
        assert change not in listed.content.decode(), (role, model)
        page = client.get(change)
        assert page.status_code in (302, 403, 404), (role, model)
        if page.status_code == 302:  # the admin's "does not exist" redirect
            assert page.url == reverse("admin:index"), (role, model)
        posted = client.post(change, {"notes": "changed", "concern": "changed"})
        assert posted.status_code in (302, 403, 404), (role, model)
        if posted.status_code == 302:
            assert posted.url == reverse("admin:index"), (role, model)
    order = RepairOrder.objects.get(pk=rows["east"]["repairorder"].pk)
    assert order.notes == ""
    assert Appointment.objects.get(pk=rows["east"]["appointment"].pk).concern == "Noise"


def test_a_manager_sees_their_own_locations_rows(client, shops):
    rows = shops[2]
    client.force_login(make_staff("mona", roles.MANAGER))
    for model in MODELS:
        ours = rows["main"][model]
        listed = client.get(reverse(f"admin:repairs_{model}_changelist")).content.decode()
        assert reverse(f"admin:repairs_{model}_change", args=[ours.pk]) in listed, model
        assert (
            client.get(reverse(f"admin:repairs_{model}_change", args=[ours.pk])).status_code == 200
        )


def test_an_order_is_not_opened_at_a_location_one_does_not_work_at(client, shops):
    _main, east, _rows = shops
    advisor = make_staff("ada", roles.SERVICE_ADVISOR)
    client.force_login(advisor)
    customer = make_customer(last_name="Walk-in")
    vehicle = make_vehicle(owner=customer)
    before = RepairOrder.objects.count()
    response = client.post(
        reverse("admin:repairs_repairorder_add"),
        {
            "location": east.pk,
            "customer": customer.pk,
            "vehicle": vehicle.pk,
            "discount_percent": "0",
            "hazardous_waste": "on",
            "jobs-TOTAL_FORMS": "0",
            "jobs-INITIAL_FORMS": "0",
        },
    )
    assert response.status_code == 200
    assert "Choose one of the locations you work at." in response.content.decode()
    assert RepairOrder.objects.count() == before


def test_the_list_shows_the_location_chosen_in_the_header(client, shops):
    _main, east, rows = shops
    advisor = make_staff("avery", roles.SERVICE_ADVISOR)
    advisor.locations.add(east)
    client.force_login(advisor)
    orders = reverse("admin:repairs_repairorder_changelist")
    mine = reverse("admin:repairs_repairorder_change", args=[rows["main"]["repairorder"].pk])
    theirs = reverse("admin:repairs_repairorder_change", args=[rows["east"]["repairorder"].pk])
    page = client.get(orders).content.decode()
    assert mine in page and theirs not in page  # home first
    session = client.session
    session["carshop_location"] = east.pk
    session.save()
    page = client.get(orders).content.decode()
    assert theirs in page and mine not in page
    assert "East Shop" in page  # the location column of a group
    # A record of another allowed location still opens (a customer's history links to it).
    assert client.get(mine).status_code == 200


def test_the_location_filter_offers_only_the_users_locations(client, shops):
    _main, east, _rows = shops
    Location.objects.create(code="west", name="West Shop", kind=Location.Kind.SHOP)
    advisor = make_staff("avery", roles.SERVICE_ADVISOR)
    advisor.locations.add(east)
    client.force_login(advisor)
    client.post(reverse("choose-location"), {"location": "all"})
    page = client.get(reverse("admin:repairs_repairorder_changelist")).content.decode()
    assert f"location__id__exact={east.pk}" in page  # the filter offers East
    assert "West Shop" not in page  # a shop the advisor does not work at is not offered


def test_inspections_signatures_and_messages_are_their_locations(client):
    """An East order's inspection, signature and message: an advisor of Main neither lists nor
    opens them; an advisor of East does."""
    from messaging.choices import Channel, Kind
    from messaging.models import Message
    from repairs import inspections
    from tests.helpers.builders.inspections import start

    east = _east()
    order = make_order(location=east)
    job = add_job_with_lines(order, title="Brakes", labor=[("1.0", "100")], approve=False)
    inspection = start(order)
    signature = inspections.sign_estimate(
        order, job_ids=[job.pk], name="Maria Garcia", client_ip="203.0.113.9"
    )
    message = Message.objects.create(
        customer=order.customer,
        repair_order=order,
        location=east,
        kind=Kind.CAR_READY,
        channel=Channel.EMAIL,
        to="maria@example.com",
        body="Your car is ready.",
        idempotency_key="east-ready",
    )
    pages = {
        "repairs_inspection": inspection.pk,
        "repairs_estimatesignature": signature.pk,
        "messaging_message": message.pk,
    }
    main_advisor = make_staff("avery", roles.SERVICE_ADVISOR)
    east_advisor = make_staff("erin", roles.SERVICE_ADVISOR, home_location=east)
    for user, sees in ((main_advisor, False), (east_advisor, True)):
        client.force_login(user)
        checked = 0
        for name, pk in pages.items():
            app, model = name.split("_", 1)
            if not user.has_perm(f"{app}.view_{model}"):
                continue
            checked += 1
            listed = client.get(reverse(f"admin:{name}_changelist")).content.decode()
            change = reverse(f"admin:{name}_change", args=[pk])
            assert (change in listed) is sees, (user, name)
            status = client.get(change).status_code
            assert (status == 200) is sees, (user, name, status)
        assert checked >= 2  # an advisor reads inspections and messages at least


# -- partners -------------------------------------------------------------------------------


def _partner_of(location, *, scopes, kind="fleet", customers=()):
    partner, _key, plain = partner_with_key(name=f"P {location.code}", scopes=scopes, kind=kind)
    partner.locations.set([location])
    partner.customers.add(*customers)
    return key_client(plain)


def test_a_partner_reads_only_its_locations_orders(shops):
    main, _east_shop, rows = shops
    customers = [rows[code]["repairorder"].customer for code in ("main", "east")]
    client = _partner_of(main, scopes=[REPAIRS_READ], customers=customers)
    listed = client.get("/api/v1/repair-orders/").json()
    numbers = {row["number"] for row in listed["results"]}
    assert numbers == {rows["main"]["repairorder"].number}
    assert {row["location"] for row in listed["results"]} == {"main"}
    assert client.get(f"/api/v1/repair-orders/{rows['east']['repairorder'].pk}/").status_code == 404
    assert client.get("/api/v1/repair-orders/?location=main").status_code == 200
    for other in ("east", "nowhere", "0"):
        answer = client.get(f"/api/v1/repair-orders/?location={other}")
        assert answer.status_code == 200 and answer.json()["results"] == []


@pytest.mark.parametrize("feed", ["invoices", "credit-notes", "payments"])
def test_an_accounting_partner_reads_only_its_locations_money(shops, feed):
    _main, east, rows = shops
    client = _partner_of(east, scopes=[ACCOUNTING_READ], kind="accounting")
    model = {"invoices": "invoice", "credit-notes": "creditnote", "payments": "payment"}[feed]
    listed = client.get(f"/api/v1/{feed}/").json()["results"]
    assert [row["id"] for row in listed] == [rows["east"][model].pk]
    assert listed[0]["location"] == "east"
    assert client.get(f"/api/v1/{feed}/{rows['main'][model].pk}/").status_code == 404
    assert client.get(f"/api/v1/{feed}/?location=main").json()["results"] == []
    assert len(client.get(f"/api/v1/{feed}/?location={east.pk}").json()["results"]) == 1


# -- numbering at the same moment (PostgreSQL) -----------------------------------------------


def _completed(location):
    order = make_order(location=location)
    add_job_with_lines(order, labor=[("1.0", "100.00")])
    return take_to(order, "completed")


@pytest.mark.postgresql
@pytest.mark.django_db(transaction=True)
def test_two_locations_invoicing_at_once_each_number_one_to_n_without_gap():
    main = Location.default()
    east = _east()
    orders = [_completed(location) for location in (main, east) for _ in range(4)]
    errors = raised(
        run_together(*[lambda o=o: services.invoice_repair_order(o) for o in orders], timeout=60)
    )
    assert errors == []
    year = timezone.localdate().year
    for location in (main, east):
        sequences = sorted(
            Invoice.objects.filter(location=location, year=year).values_list("sequence", flat=True)
        )
        assert sequences == [1, 2, 3, 4], location.code
        orders_numbered = RepairOrder.objects.filter(location=location).values_list(
            "number", flat=True
        )
        assert len(set(orders_numbered)) == 4
    assert Invoice.objects.values("number").distinct().count() == 8


def _approved(location):
    order = make_order(location=location)
    add_job_with_lines(order, labor=[("1.0", "100.00")])
    return take_to(order, "in_progress")


def test_the_board_and_the_technicians_screen_show_their_locations_work(client, db):
    main = Location.default()
    east = _east()
    ours, theirs = _approved(main), _approved(east)
    tech = make_staff("tom", roles.TECHNICIAN)  # works at the default location only
    client.force_login(tech)
    screen = client.get(reverse("technician:jobs")).content.decode()
    assert ours.number in screen
    assert theirs.number not in screen
    with pytest.raises(RepairError, match="does not work"):
        services.clock_in(tech, theirs.jobs.get())
    services.clock_in(tech, ours.jobs.get())

    client.force_login(make_staff("ada", roles.SERVICE_ADVISOR))
    board = client.get(reverse("admin:repairs_repairorder_board")).content.decode()
    assert ours.number in board
    assert theirs.number not in board


# -- staff pickers: a location's own advisors and technicians -------------------------------


def _pickers_staff(east):
    """Advisors and technicians of one shop each, one of both, and a manager of the group."""
    people = {
        "main_advisor": make_staff("marta", roles.SERVICE_ADVISOR, last_name="Mainonly"),
        "east_advisor": make_staff("erin", roles.SERVICE_ADVISOR, last_name="Eastonly"),
        "both_advisor": make_staff("bo", roles.SERVICE_ADVISOR, last_name="Bothshops"),
        "main_tech": make_staff("mick", roles.TECHNICIAN, last_name="Maintech"),
        "east_tech": make_staff("ezra", roles.TECHNICIAN, last_name="Easttech"),
    }
    for name in ("east_advisor", "east_tech"):
        people[name].home_location = east
        people[name].save()
    people["both_advisor"].locations.add(east)
    return people


def test_a_new_order_and_the_advisor_filter_offer_the_locations_own_advisors(client, db):
    east = _east()
    people = _pickers_staff(east)
    client.force_login(people["east_advisor"])

    for url in (
        reverse("admin:repairs_repairorder_add"),
        reverse("admin:repairs_repairorder_changelist"),
    ):
        page = client.get(url).content.decode()
        assert "Eastonly" in page, url
        assert "Bothshops" in page, url
        assert "Mainonly" not in page, url


def test_an_order_of_one_shop_offers_its_technicians(client, db):
    east = _east()
    people = _pickers_staff(east)
    order = _approved(east)
    client.force_login(people["east_advisor"])

    page = client.get(reverse("admin:repairs_repairorder_change", args=[order.pk])).content
    assert "Easttech" in page.decode()
    assert "Maintech" not in page.decode()
    board = client.get(reverse("admin:repairs_repairorder_board")).content.decode()
    assert "Easttech" in board
    assert "Maintech" not in board
    with pytest.raises(RepairError, match="does not work"):
        services.assign_job(order.jobs.get(), people["main_tech"])
    services.assign_job(order.jobs.get(), people["east_tech"])


def test_a_forced_post_with_another_shops_advisor_is_refused(client, db):
    east = _east()
    people = _pickers_staff(east)
    client.force_login(people["east_advisor"])
    customer = make_customer(last_name="Walk-in")
    vehicle = make_vehicle(owner=customer)
    before = RepairOrder.objects.count()
    form = {
        "location": east.pk,
        "customer": customer.pk,
        "vehicle": vehicle.pk,
        "discount_percent": "0",
        "hazardous_waste": "on",
        "jobs-TOTAL_FORMS": "0",
        "jobs-INITIAL_FORMS": "0",
    }

    response = client.post(
        reverse("admin:repairs_repairorder_add"),
        {**form, "advisor": people["main_advisor"].pk},
    )

    assert response.status_code == 200  # the form again, with the refusal
    assert "Marta Mainonly does not work at East Shop" in response.content.decode()
    assert RepairOrder.objects.count() == before

    response = client.post(
        reverse("admin:repairs_repairorder_add"),
        {**form, "advisor": people["both_advisor"].pk},
    )
    assert response.status_code == 302
    assert RepairOrder.objects.get(vehicle=vehicle).advisor == people["both_advisor"]


def test_the_services_refuse_another_shops_advisor_or_technician(client, db):
    """Whatever the form offered: a labor line's technician, an appointment's advisor and a new
    order's advisor work at the order's or the booking's location; a line kept as it was stays
    when its technician moves shop."""
    east = _east()
    people = _pickers_staff(east)
    order = _approved(east)
    job = order.jobs.get()
    lines = job.labor_lines.count()

    with pytest.raises(RepairError, match="Mick Maintech does not work"):
        services.add_labor_line(
            job, operation="Diag", hours_sold=D("1.0"), technician=people["main_tech"]
        )
    line = services.add_labor_line(
        job, operation="Diag", hours_sold=D("1.0"), technician=people["east_tech"]
    )
    line.technician = people["main_tech"]
    with pytest.raises(RepairError, match="does not work"):
        services.save_labor_line(line)
    assert job.labor_lines.count() == lines + 1
    assert job.labor_lines.get(pk=line.pk).technician == people["east_tech"]
    # Ezra moves to the main shop: the East line he already has is kept and can be edited.
    people["east_tech"].home_location = Location.default()
    people["east_tech"].save()
    line.refresh_from_db()
    line.hours_sold = D("1.5")
    services.save_labor_line(line)

    with pytest.raises(RepairError, match="Marta Mainonly does not work at East Shop"):
        services.create_repair_order(
            make_vehicle(owner=make_customer(last_name="Else")),
            location=east,
            advisor=people["main_advisor"],
        )

    booking = _appointment(east)
    booking.advisor = people["main_advisor"]
    with pytest.raises(RepairError, match="Marta Mainonly does not work at East Shop"):
        services.save_appointment(booking)
    assert Appointment.objects.get(pk=booking.pk).advisor is None

    # Through the appointment's page: the refusal on the form, nothing saved.
    boss = make_staff("boss", roles.MANAGER)  # of both shops: Marta is offered
    boss.locations.add(east)
    client.force_login(boss)
    page = client.get(reverse("admin:repairs_appointment_change", args=[booking.pk]))
    assert page.status_code == 200
    form = {
        "location": east.pk,
        "date": booking.date.isoformat(),
        "time": "09:00",
        "customer": booking.customer_id,
        "vehicle": booking.vehicle_id,
        "concern": booking.concern,
        "advisor": people["main_advisor"].pk,
        "status": booking.status,
    }
    response = client.post(reverse("admin:repairs_appointment_change", args=[booking.pk]), form)
    assert response.status_code == 200
    assert "Marta Mainonly does not work at East Shop" in response.content.decode()
    assert Appointment.objects.get(pk=booking.pk).advisor is None


def test_a_vehicle_open_at_another_shop_is_said_so_without_its_number(db):
    """Vehicles are the group's: an advisor learns the car is open at another shop, not the
    number of a record they cannot open."""
    east = _east()
    main_order = make_order(location=Location.default())
    here = make_order(location=east, vehicle=main_order.vehicle, customer=main_order.customer)
    created = services.create_repair_order(
        main_order.vehicle, customer=main_order.customer, location=east
    )
    warning = next(w for w in created.warnings if "already has an open repair order" in w)
    assert f"({here.number}, at {Location.default()})" in warning
    # At the order's own shop, its number.
    assert main_order.number in services.open_orders_warning(
        main_order.vehicle, location=Location.default()
    )


# -- parts: the stock of the order's shop -----------------------------------------------------


def test_an_advisor_reads_the_parts_stock_of_their_own_shop(client, db):
    # The group holds 7 filters, all at the default location: at the east shop there are none,
    # and starting work there would be refused for want of stock, so none is what its advisor
    # reads in the part picker and on the order's page.
    east = _east()
    filters = make_part("FIL-17", description="Oil filter", on_hand=7, bin_location="E-05")
    inventory_services.adjust_stock(filters, 2, reason="opening stock", location=east)
    PartStock.objects.filter(part=filters, location=east).update(bin="B-2")
    inventory_services.adjust_stock(filters, -2, reason="count", location=east)
    east_advisor = _pickers_staff(east)["east_advisor"]
    client.force_login(east_advisor)

    picker = client.get(
        reverse("admin:repairs_partline_picker"),
        {"term": "FIL", "app_label": "repairs", "model_name": "partline", "field_name": "part"},
    )
    [offered] = [row["text"] for row in picker.json()["results"]]
    assert offered == "FIL-17 Oil filter · none in stock: special order · 9.50 · bin B-2"

    order = make_order(location=east, advisor=east_advisor)
    job = services.add_job(order, title="Oil change")
    services.add_part_line(job, filters, 1)
    for url in (
        reverse("admin:repairs_repairorder_change", args=[order.pk]),
        reverse("admin:repairs_job_change", args=[job.pk]),
    ):
        page = client.get(url).content.decode()
        assert "0 on hand, 1 short · bin B-2" in page, url
        assert "7 on hand" not in page, url

    # At the default location, its advisor reads the 7 there.
    client.force_login(make_staff("mara", roles.SERVICE_ADVISOR))
    picker = client.get(
        reverse("admin:repairs_partline_picker"),
        {"term": "FIL", "app_label": "repairs", "model_name": "partline", "field_name": "part"},
    )
    assert picker.json()["results"][0]["text"] == "FIL-17 Oil filter · 7 on hand · 9.50 · bin E-05"
