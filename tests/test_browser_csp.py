"""Content-Security-Policy and Permissions-Policy, in a real browser: every page people use runs
under the policy without one violation (a violation is a console error, which fails the test
through the `people` fixture): the admin with an inline and an autocomplete, a printable
document, the customer's estimate page on a phone, and the API docs (Swagger UI and Redoc)."""

import pytest
from django.urls import reverse

from repairs import links
from tests.helpers.builders.lot import make_customer, make_unit
from tests.helpers.builders.repairs import add_job_with_lines, make_order, set_rates

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def assert_policies(response):
    headers = response.headers
    policy = headers["content-security-policy"]
    assert (
        "script-src 'self'" in policy
        and "'unsafe-inline'" not in policy.split("script-src", 1)[1].split(";", 1)[0]
    )
    assert "object-src 'none'" in policy and "frame-ancestors 'none'" in policy
    assert "camera=()" in headers["permissions-policy"]


def test_the_admin_runs_under_the_policy(people, manager):
    make_unit(stock_number="CSP-1")
    make_customer(first="Ada", last="Lovelace")
    person = people.open().log_in("manager")

    assert_policies(person.go("/admin/"))
    assert "Shop and lot" in person.text("#content h1")

    # A deal: inlines (trade-ins, add-ons, payments) and autocompletes (stock unit, buyer).
    assert_policies(person.go("/admin/sales/deal/add/"))
    page = person.page
    page.click("#id_buyer + .select2 .select2-selection")
    page.fill(".select2-search__field", "Lovel")
    page.wait_for_selector(".select2-results__option:has-text('Lovelace')")
    page.click(".select2-results__option:has-text('Lovelace')")
    assert "Lovelace" in page.locator("#id_buyer + .select2").inner_text()
    page.click("#tradeins-group .add-row a, #trade_ins-group .add-row a, .add-row a >> nth=0")
    assert page.locator(".dynamic-form, tr.form-row:not(.empty-form)").count() >= 1

    # The admin's calendar widget, on a new stock unit's page (inlines: costs, photos).
    assert_policies(person.go("/admin/inventory/stockunit/add/"))
    page.fill("#id_acquired_on", "")
    page.click(".datetimeshortcuts a:has-text('Today') >> nth=0")
    assert page.input_value("#id_acquired_on") != ""


def test_a_printable_repair_order_runs_under_the_policy(people, advisor):
    order = make_order()
    add_job_with_lines(order, labor=[("1.0", "100.00")])
    person = people.open().log_in("advisor")

    response = person.go(f"/admin/repairs/repairorder/{order.pk}/print/")

    assert_policies(response)
    assert person.page.locator("button[data-print]").count() == 1


def test_the_customers_estimate_page_runs_under_the_policy(people):
    set_rates(estimate_link_days=7)
    order = make_order()
    add_job_with_lines(order, title="Front brake pads", labor=[("1.5", "100.00")], approve=False)
    person = people.open(phone=True)

    response = person.go(reverse("repairs:customer_estimate", args=[links.estimate_token(order)]))

    assert_policies(response)
    assert "Front brake pads" in person.text("body")


def test_the_api_docs_run_under_the_policy(people):
    person = people.open()

    response = person.go("/api/v1/docs/")
    person.page.wait_for_selector(".swagger-ui .info .title")
    assert_policies(response)
    assert "nonce-" in response.headers["content-security-policy"]
    assert "Carshop partner API" in person.text(".swagger-ui .info")
    person.page.click("text=webhooks >> nth=0")

    # Redoc's logo comes from its maker's site, outside this test's world: answered here.
    person.page.route(
        "https://cdn.redoc.ly/**",
        lambda route: route.fulfill(
            status=200,
            content_type="image/svg+xml",
            body='<svg xmlns="http://www.w3.org/2000/svg" width="1" height="1"/>',
        ),
    )
    response = person.go("/api/v1/redoc/")
    person.page.wait_for_selector("text=Carshop partner API")
    assert_policies(response)
