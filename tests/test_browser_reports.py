"""The report pages in a real browser (Debian's Chromium): the manager lands on the dashboard
(the shop's and the lot's key figures) and opens reports, each chart is drawn from Carshop's own
files under its Content-Security-Policy; a service advisor sees only the work in progress."""

import pytest

from tests.helpers.builders.repairs import add_job_with_lines, make_order, set_rates, take_to

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PAINTED = """(selector) => {
  const canvas = document.querySelector(selector);
  if (!canvas || !canvas.width || !canvas.height) { return 0; }
  const pixels = canvas.getContext("2d").getImageData(0, 0, canvas.width, canvas.height).data;
  let painted = 0;
  for (let i = 3; i < pixels.length; i += 4) { if (pixels[i]) { painted += 1; } }
  return painted;
}"""


def drawn(person):
    person.page.wait_for_selector("#report-chart[data-drawn=yes]")
    return person.page.evaluate(PAINTED, "#report-chart")


def test_the_manager_s_dashboard_and_a_report(people, manager):
    set_rates(technician_cost_rate="30.00")
    order = make_order()
    add_job_with_lines(order, title="Timing belt", labor=[("4.0", "120.00")])
    take_to(order, "invoiced")

    desk = people.open().log_in("manager")
    assert desk.page.url.endswith("/admin/")
    dashboard = desk.text("#manager-dashboard")
    assert "Today" in dashboard and "This month" in dashboard and "Car count" in dashboard
    # The lot next to the shop: its key figures, each a link to its report.
    assert "The lot this month" in dashboard and "Capital tied up" in dashboard
    desk.page.locator("#manager-dashboard a", has_text="Units sold").click()
    desk.page.wait_for_load_state()
    assert "/admin/reports/lot-units-sold/" in desk.page.url
    assert drawn(desk) > 100
    desk.go("/admin/")
    assert drawn(desk) > 100

    desk.page.locator("#reports-module").get_by_role("link", name="Sales and gross profit").click()
    desk.page.wait_for_load_state()
    assert "/admin/reports/sales-gross/" in desk.page.url
    assert drawn(desk) > 100
    table = desk.text("#report-table")
    assert "Labor" in table and "480.00" in table
    assert "previous period" in desk.text(".report-summary").lower()

    # On paper: the chart and the table, without the menus, the picker and the buttons.
    desk.page.emulate_media(media="print")
    assert desk.page.locator("#report-table").is_visible()
    assert desk.page.locator("#report-chart").is_visible()
    assert not desk.page.locator(".report-period").is_visible()
    assert not desk.page.locator("#header").is_visible()
    desk.page.emulate_media(media="screen")

    # Another period: last month, through the picker.
    desk.page.select_option("#id_period", "last_month")
    desk.page.click(".report-period input[type=submit]")
    desk.page.wait_for_load_state()
    assert "period=last_month" in desk.page.url
    assert drawn(desk) > 100
    # The full dashboard page.
    desk.go("/admin/reports/")
    assert drawn(desk) > 100


def test_a_service_advisor_sees_only_the_work_in_progress(people, advisor):
    make_order()
    desk = people.open().log_in("advisor")
    assert desk.page.locator("#manager-dashboard").count() == 0
    links = [text.lower() for text in desk.page.locator("#reports-module a").all_inner_texts()]
    assert links == ["reports", "work in progress"]
    desk.page.locator("#reports-module").get_by_role("link", name="Work in progress").click()
    desk.page.wait_for_load_state()
    assert drawn(desk) > 100
    assert "Estimate" in desk.text("#report-table")
    # Asked for anyway (with the advisor's session): refused.
    assert desk.page.request.get("/admin/reports/sales-gross/").status == 403


def test_a_manager_of_two_shops_switches_location_and_compares_them(people, manager):
    from accounts.models import Location, ShopSettings

    set_rates(technician_cost_rate="30.00")
    east = Location.objects.create(code="east", name="East Shop", kind=Location.Kind.SHOP)
    ShopSettings.of(east)
    manager.locations.add(east)
    for location, hours in ((Location.default(), "4.0"), (east, "1.0")):
        order = make_order(location=location)
        add_job_with_lines(order, title="Timing belt", labor=[(hours, "120.00")])
        take_to(order, "invoiced")

    desk = people.open().log_in("manager")
    desk.go("/admin/reports/sales-gross/?period=today")
    assert drawn(desk) > 100
    assert "480.00" in desk.text(".report-summary")  # their home shop: 4 h x 120
    page = desk.page
    page.select_option("#location-chooser-select", label="East Shop")
    page.locator(".location-chooser button[type=submit]").click()
    page.wait_for_load_state()
    assert "/admin/reports/sales-gross/" in page.url
    summary = desk.text(".report-summary")
    assert "120.00" in summary and "480.00" not in summary
    assert drawn(desk) > 100

    page.locator("#compare-locations").click()
    page.wait_for_load_state()
    assert "by=location" in page.url
    assert drawn(desk) > 100  # a bar per location
    table = desk.text("#report-locations")
    assert "East Shop" in table and "Together" in table
    assert "120.00" in table and "480.00" in table and "600.00" in table

    # A report compared from its queries grouped by location: what each shop is owed.
    desk.go("/admin/reports/receivables/?period=today&by=location")
    assert drawn(desk) > 100
    table = desk.text("#report-locations")
    assert "East Shop" in table and "Together" in table and Location.default().name in table

    desk.go("/admin/")
    assert "120.00" in desk.text("#manager-dashboard")  # East chosen: its figures
