"""Parts sent between two shops of the group, at real browsers: a manager of both sends a
transfer, the receiving shop's advisor receives it, and each shop's parts list shows its stock."""

from decimal import Decimal

import pytest

from accounts import roles
from accounts.models import Location
from inventory import services
from inventory.models import StockTransfer
from tests.helpers.browser import choose, messages, save
from tests.helpers.builders.inventory import make_part

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def on_hand_here(person, sku):
    person.go(f"/admin/inventory/part/?q={sku}")
    row = person.page.locator("#result_list tbody tr", has_text=sku)
    return row.locator("td.field-on_hand_here").inner_text().strip()


def test_a_manager_sends_parts_and_the_other_shop_receives_them(people, make_user):
    main = Location.default()
    north = Location.objects.create(code="north", name="North Shop", kind=Location.Kind.SHOP)
    part = make_part("PAD-77", on_hand=8, unit_cost="12.00", description="Brake pads")
    manager = make_user("gm", roles.MANAGER)
    manager.locations.add(north)
    advisor = make_user("northdesk", roles.SERVICE_ADVISOR)
    advisor.home_location = north
    advisor.save()

    boss = people.open().log_in("gm")
    assert on_hand_here(boss, "PAD-77") == "8"
    boss.go("/admin/inventory/stocktransfer/add/")
    boss.page.select_option("#id_from_location", str(main.pk))
    boss.page.select_option("#id_to_location", str(north.pk))
    choose(boss.page, "id_lines-0-part", "PAD-77")
    boss.page.fill("#id_lines-0-quantity", "3")
    save(boss.page, "_continue")
    assert "was added successfully" in messages(boss.page)
    boss.page.click("button:has-text('Send')")
    assert "in transit" in messages(boss.page)
    transfer = StockTransfer.objects.get()
    assert transfer.status == StockTransfer.Status.IN_TRANSIT
    assert on_hand_here(boss, "PAD-77") == "5"

    desk = people.open().log_in("northdesk")
    assert on_hand_here(desk, "PAD-77") == "0"
    desk.go(f"/admin/inventory/stocktransfer/{transfer.pk}/change/")
    assert desk.page.locator("button:has-text('Send')").count() == 0  # the source sends
    desk.page.click("button:has-text('Receive')")
    assert "received at North Shop" in messages(desk.page)
    assert on_hand_here(desk, "PAD-77") == "3"
    assert on_hand_here(boss, "PAD-77") == "5"
    assert services.average_cost_at(part, north) == Decimal("12.00")
