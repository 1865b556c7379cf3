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
