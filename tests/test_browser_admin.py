"""A person at a real browser: logging in, working the customer book, being locked out."""

import pytest

from accounts.models import Customer

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def log_in(page, live_server, username, password):
    page.goto(f"{live_server.url}/admin/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", password)
    page.click("input[type=submit]")
    page.wait_for_load_state()


def test_advisor_logs_in_adds_a_customer_and_finds_them_by_phone(
    browser_page, live_server, advisor
):
    page = browser_page
    log_in(page, live_server, "advisor", "s3cret-Pass-word")
    assert "Shop and lot" in page.locator("#content h1").inner_text()

    page.goto(f"{live_server.url}/admin/accounts/customer/add/")
    page.fill("#id_first_name", "Ada")
    page.fill("#id_last_name", "Lovelace")
    page.fill("#id_phone", "(217) 555-0142")
    page.fill("#id_email", "ada@example.com")
    page.click("input[name=_save]")
    assert "was added successfully" in page.locator(".messagelist").inner_text()
    assert Customer.objects.filter(display_name="Lovelace, Ada").exists()

    page.fill("#searchbar", "555-0142")
    page.press("#searchbar", "Enter")
    assert page.locator("#result_list").inner_text().count("Lovelace, Ada") == 1


def test_wrong_company_form_shows_the_message_next_to_the_field(browser_page, live_server, advisor):
    page = browser_page
    log_in(page, live_server, "advisor", "s3cret-Pass-word")
    page.goto(f"{live_server.url}/admin/accounts/customer/add/")
    page.select_option("#id_kind", "company")
    page.click("input[name=_save]")
    assert "A company needs a company name." in page.locator(".errorlist").first.inner_text()
    assert not Customer.objects.exists()


def test_repeated_wrong_passwords_lock_the_login(browser_page, live_server, advisor, settings):
    page = browser_page
    for _ in range(settings.AXES_FAILURE_LIMIT):
        log_in(page, live_server, "advisor", "wrong-password")
    log_in(page, live_server, "advisor", "s3cret-Pass-word")
    assert "Too many failed logins" in page.locator("#content h1").inner_text()


def test_manager_cancels_a_deal_with_a_deposit_and_refunds_it(
    browser_page, live_server, manager, salesperson
):
    from decimal import Decimal

    from sales import services
    from sales.models import DealRefund
    from tests.helpers.builders.lot import make_deal

    deal = make_deal(salesperson=salesperson)
    services.record_payment(deal, amount=Decimal("400.00"), method="card")
    page = browser_page
    log_in(page, live_server, "manager", "s3cret-Pass-word")

    page.goto(f"{live_server.url}/admin/sales/deal/{deal.pk}/step/cancel/")
    page.fill("#id_reason", "Financing refused")
    page.click("input[type=submit]")
    messages = page.locator(".messagelist").inner_text()
    assert f"{deal.number} is now canceled." in messages
    assert f"{deal.number} holds 400.00 of the buyer's money" in messages

    page.locator("#refunds-group .add-row a").click()
    page.fill("#id_refunds-0-amount", "400.00")
    page.select_option("#id_refunds-0-method", "card")
    page.click("input[name=_continue]")
    assert page.locator(".errornote").count() == 0
    assert DealRefund.objects.get(deal=deal).amount == Decimal("400.00")
    figures = page.locator("table.deal-figures").inner_text()
    assert "Held for the buyer\t0.00" in figures or "Held for the buyer 0.00" in figures
