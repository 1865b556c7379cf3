"""The report pages in the back office: who opens which report (through HTTP and in the admin's
HTML), the period picker's bad input, the CSV download, and a page's queries not growing with
its rows."""

import csv
import io
import re
from decimal import Decimal
from pathlib import Path

import pytest
from django.urls import reverse

from reports.registry import REPORTS
from tests.helpers.builders.repairs import add_job_with_lines, make_order, take_to

pytestmark = pytest.mark.django_db

SHOP_REPORTS = [slug for slug, found in REPORTS.items() if found.area == "shop"]


def page(client, slug, query=""):
    return client.get(reverse("reports:report", args=[slug]) + query)


def test_every_shop_report_and_the_dashboard_open_for_a_manager(login, manager):
    client = login(manager)
    index = client.get(reverse("reports:index"))
    assert index.status_code == 200
    assert 'id="manager-dashboard"' in index.content.decode()
    for slug in SHOP_REPORTS:
        response = page(client, slug)
        assert response.status_code == 200, slug
        html = response.content.decode()
        assert 'id="report-chart"' in html and 'id="report-table"' in html
        assert "report-chart-data" in html and "Download CSV" in html
        assert reverse("reports:csv", args=[slug]) in html


def test_the_admin_home_is_the_manager_s_dashboard(login, manager):
    html = login(manager).get(reverse("admin:index")).content.decode()
    assert 'id="manager-dashboard"' in html and "Shop and lot" in html
    assert 'id="reports-module"' in html
    assert reverse("reports:report", args=["sales-gross"]) in html


def test_a_service_advisor_sees_the_work_in_progress_only(login, advisor):
    client = login(advisor)
    assert page(client, "work-in-progress").status_code == 200
    for slug in SHOP_REPORTS:
        if slug != "work-in-progress":
            assert page(client, slug).status_code == 403, slug
            assert client.get(reverse("reports:csv", args=[slug])).status_code == 403
    home = client.get(reverse("admin:index")).content.decode()
    assert 'id="manager-dashboard"' not in home
    assert reverse("reports:report", args=["work-in-progress"]) in home
    assert reverse("reports:report", args=["sales-gross"]) not in home
    index = client.get(reverse("reports:index")).content.decode()
    assert "Work in progress" in index and "Sales and gross profit" not in index


@pytest.mark.parametrize("role", ["technician", "operator"])
def test_roles_without_reports_see_none(request, login, role):
    client = login(request.getfixturevalue(role))
    assert client.get(reverse("reports:index")).status_code == 403
    for slug in SHOP_REPORTS:
        assert page(client, slug).status_code == 403
    home = client.get(reverse("admin:index"), follow=True).content.decode()
    assert "/admin/reports/" not in home


def test_a_salesperson_sees_no_shop_report(login, salesperson):
    client = login(salesperson)
    for slug in SHOP_REPORTS:
        assert page(client, slug).status_code == 403
    assert (
        "/admin/reports/work-in-progress/"
        not in client.get(reverse("admin:index")).content.decode()
    )


def test_anonymous_visitors_are_sent_to_the_login(client):
    response = page(client, "sales-gross")
    assert response.status_code == 302 and "/admin/login/" in response["Location"]


def test_the_old_addresses_lead_to_the_reports(client):
    assert client.get("/reports/")["Location"] == reverse("reports:index")
    assert client.get("/dashboard/")["Location"] == reverse("reports:index")


@pytest.mark.parametrize(
    "query, message",
    [
        ("?period=custom&start=2026-13-01&end=2026-12-31", "is not a valid start date"),
        ("?period=custom&start=2026-01-01", "Enter the end date"),
        ("?period=custom&start=2026-05-01&end=2026-04-01", "end date is before the start date"),
        ("?period=custom&start=2000-01-01&end=2026-01-01", "at most five years"),
        ("?period=fortnight", "Unknown period"),
        ("?period=custom&start=%00%27&end=x", "is not a valid start date"),
    ],
)
def test_bad_periods_are_explained_never_a_server_error(login, manager, query, message):
    client = login(manager)
    response = page(client, "car-count", query)
    assert response.status_code == 400
    assert message in response.content.decode()
    csv_response = client.get(reverse("reports:csv", args=["car-count"]) + query)
    assert csv_response.status_code == 400 and message in csv_response.content.decode()
    # The page's own CSV link is of the figures it shows instead (this month).
    html = response.content.decode()
    link = html[html.index('href="', html.index("report-tools")) + 6 :]
    link = link[: link.index('"')].replace("&amp;", "&")
    assert "period=month" in link and "start=" not in link
    shown = client.get(link)
    assert shown.status_code == 200 and shown["Content-Type"].startswith("text/csv")


def test_a_custom_period_is_shown_with_the_period_before(login, manager):
    html = page(
        login(manager), "comebacks", "?period=custom&start=2026-03-01&end=2026-03-10"
    ).content.decode()
    assert "2026-03-01 - 2026-03-10" in html and "2026-02-19 - 2026-02-28" in html


def test_the_csv_is_the_table_with_formulas_neutralized(login, manager):
    order = make_order()
    order.customer.first_name = "=HYPERLINK(1)"
    order.customer.save()
    add_job_with_lines(order, title="=1+1 brakes", labor=[("2.0", "100.00")], approve=False)
    from repairs import services
    from repairs.choices import Authorization, AuthorizationMethod

    services.authorize_job(
        order.jobs.get(),
        Authorization.DECLINED,
        method=AuthorizationMethod.PHONE,
        authorized_by="Maria",
    )
    response = login(manager).get(reverse("reports:csv", args=["declined-work"]) + "?period=today")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    assert "attachment" in response["Content-Disposition"]
    rows = list(csv.reader(io.StringIO(response.content.decode())))
    assert rows[0] == ["Repair order", "Customer", "Vehicle", "Job", "Declined on", "Value"]
    (row,) = rows[1:]
    assert row[1] == "'=HYPERLINK(1) Garcia"
    assert row[3] == "'=1+1 brakes"
    assert row[5] == "200.00"


def _invoiced(n):
    for _ in range(n):
        order = make_order()
        add_job_with_lines(order, labor=[("1.0", "100.00")])
        take_to(order, "invoiced")


@pytest.mark.parametrize("slug", [*SHOP_REPORTS, None])
def test_a_page_s_queries_do_not_grow_with_its_rows(
    login, manager, slug, django_assert_max_num_queries
):
    client = login(manager)
    url = (
        reverse("reports:report", args=[slug]) + "?period=year"
        if slug
        else reverse("reports:index")
    )
    _invoiced(1)
    client.get(url)  # sessions, permissions and the shop settings are cached after the first
    # The dashboard draws the shop's and the lot's figures, each for two periods.
    with django_assert_max_num_queries(40 if slug else 60) as few:
        assert client.get(url).status_code == 200
    _invoiced(4)
    with django_assert_max_num_queries(len(few.captured_queries)):
        assert client.get(url).status_code == 200


def test_each_row_links_to_the_admin_list_behind_it(login, manager):
    _invoiced(1)
    client = login(manager)
    html = page(client, "sales-gross", "?period=today").content.decode()
    assert reverse("admin:repairs_invoice_changelist") + "?issued_at__gte=" in html
    invoices = client.get(
        reverse("admin:repairs_invoice_changelist") + _first_link(html, "/admin/repairs/invoice/?")
    )
    assert invoices.status_code == 200 and "1 invoice" in invoices.content.decode()
    assert (
        Decimal("100.00")
        == REPORTS["sales-gross"]
        .figure(__import__("reports.periods").periods.preset_period("today"))
        .rows[0]["sales"]
    )


def _first_link(html, prefix):
    import html as markup

    start = html.index(prefix) + len(prefix) - 1
    return markup.unescape(html[start : html.index('"', start)])


def test_the_chart_library_is_served_by_carshop_with_its_licence_and_no_inline_script(
    login, manager
):
    from django.contrib.staticfiles import finders

    def read(name):
        return Path(finders.find(name)).read_text(encoding="utf-8")

    assert "Chart.js v4.4.7" in read("reports/vendor/chartjs/chart.umd.js")[:300]
    assert "MIT License" in read("reports/vendor/chartjs/LICENSE.md")
    response = page(login(manager), "sales-gross")
    html = response.content.decode()
    assert "reports/vendor/chartjs/chart.umd.js" in html and "cdn" not in html.lower()
    # Scripts only from Carshop's files; the chart's numbers are JSON, which does not run.
    for tag in re.findall(r"<script[^>]*>", html):
        assert "src=" in tag or 'type="application/json"' in tag, tag
    assert "script-src 'self'" in response["Content-Security-Policy"]
    assert "@media print" in read("reports/reports.css")


@pytest.mark.parametrize("slug", SHOP_REPORTS)
def test_every_link_of_a_report_opens_its_admin_list(login, manager, slug):
    from repairs import services
    from repairs.choices import Authorization, AuthorizationMethod
    from tests.helpers.builders.repairs import make_part

    part = make_part("OF-1", cost="4.00", price="10.00", on_hand=10)
    order = make_order()
    add_job_with_lines(order, labor=[("1.0", "100.00")], parts=[(part, 1, "10.00")])
    job = add_job_with_lines(order, title="Wipers", labor=[("0.5", "100.00")], approve=False)
    services.authorize_job(
        job, Authorization.DECLINED, method=AuthorizationMethod.PHONE, authorized_by="Maria"
    )
    take_to(order, "invoiced")
    make_order(comeback_of=None)
    client = login(manager)
    html = page(client, slug, "?period=today").content.decode()
    import html as markup

    links = {
        markup.unescape(link) for link in re.findall(r'href="(/admin/[a-z]+/[a-z]+/\?[^"]*)"', html)
    }
    assert links, slug
    for link in links:
        response = client.get(link)
        assert response.status_code == 200, link  # an admin list refusing a filter redirects
