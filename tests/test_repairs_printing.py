"""Printed estimates and invoices: a print page and a PDF with the shop's details, for the
people who handle customers' money; others are refused, visitors sent to log in."""

import pytest
from django.urls import reverse

from accounts.roles import MANAGER, SALESPERSON, SERVICE_ADVISOR, TECHNICIAN
from repairs import services
from tests.helpers.builders.repairs import (
    add_job_with_lines,
    make_order,
    make_part,
    make_staff,
    set_rates,
    take_to,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def invoice():
    shop = set_rates(parts_tax_rate="8", shop_supplies_rate="0", hazardous_waste_fee="0")
    shop.name, shop.address, shop.tax_id = "Main Street Auto", "100 Main Street", "12-3456789"
    shop.save()
    part = make_part("BP-1", price="45.99")
    order = make_order()
    add_job_with_lines(
        order, title="Front brake pads", labor=[("1.5", "100.00")], parts=[(part, 1, None)]
    )
    return services.invoice_repair_order(take_to(order, "completed"))


def _urls(invoice):
    order = invoice.repair_order
    return {
        "estimate": reverse("admin:repairs_repairorder_print", args=[order.pk]),
        "estimate pdf": reverse("admin:repairs_repairorder_pdf", args=[order.pk]),
        "invoice": reverse("admin:repairs_invoice_print", args=[invoice.pk]),
        "invoice pdf": reverse("admin:repairs_invoice_pdf", args=[invoice.pk]),
    }


def test_an_advisor_prints_the_estimate_and_invoice_with_the_shop_details(client, invoice):
    client.force_login(make_staff("sam", SERVICE_ADVISOR))
    urls = _urls(invoice)
    estimate = client.get(urls["estimate"]).content.decode()
    assert "Main Street Auto" in estimate and "12-3456789" in estimate
    assert "Front brake pads" in estimate and "@media print" in estimate
    page = client.get(urls["invoice"]).content.decode()
    assert invoice.number in page
    assert "199.67" in page  # 150.00 + 45.99 + 3.68 tax (8 % of 45.99)
    for name in ("estimate pdf", "invoice pdf"):
        response = client.get(urls[name])
        assert response.status_code == 200, name
        assert response["Content-Type"] == "application/pdf"
        assert response.content.startswith(b"%PDF-")
        assert "attachment" in response["Content-Disposition"]


@pytest.mark.parametrize("role", [TECHNICIAN, SALESPERSON])
def test_staff_without_access_to_customer_money_are_refused(client, invoice, role):
    user = make_staff("someone", role)
    if role == TECHNICIAN:
        # Even a technician who worked on the order does not print its prices.
        line = invoice.repair_order.jobs.get().labor_lines.get()
        line.technician = user
        line.save()
    client.force_login(user)
    for name, url in _urls(invoice).items():
        assert client.get(url).status_code == 403, name


def test_visitors_are_sent_to_the_login_page(client, invoice):
    for name, url in _urls(invoice).items():
        response = client.get(url)
        assert response.status_code == 302, name
        assert response.url.startswith(reverse("admin:login")), name


def _bad_document_urls(invoice):
    """Every print and PDF address with an id that names no document: typed, pasted, or cut."""
    order = invoice.repair_order
    paths = []
    for model, pk in (("repairorder", order.pk), ("invoice", invoice.pk)):
        for suffix in ("print/", "print/pdf/"):
            for bad_id in (
                f"{pk}/change",
                "abc",
                "-1",
                "0",
                "1.5",
                f"{pk}abc",
                "99999999999999999999999",
                f"{pk + 1000}",
            ):
                paths.append(f"/admin/repairs/{model}/{bad_id}/{suffix}")
    for bad_id in (f"{order.pk}/change", "abc", "99999999999999999999999"):
        paths.append(f"/admin/sales/deal/{bad_id}/buyers-order/")
    return paths


@pytest.mark.parametrize("role", [SERVICE_ADVISOR, MANAGER])
def test_a_typed_address_with_a_bad_id_is_a_page_not_found(client, invoice, role):
    # /admin/repairs/invoice/15/change/print/ and /admin/repairs/repairorder/abc/print/ used to
    # raise "Field 'id' expected a number" (a server error).
    client.force_login(make_staff("sam", role))
    statuses = {path: client.get(path).status_code for path in _bad_document_urls(invoice)}
    assert statuses == dict.fromkeys(statuses, 404)
    # The good addresses still print.
    for name, url in _urls(invoice).items():
        assert client.get(url).status_code == 200, name
