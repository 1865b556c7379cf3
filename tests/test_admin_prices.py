"""A technician never sees a price, rate, amount, total or cost on any admin page they can
open, and is offered no button (print, PDF, history) that would show one or answer 403.
Who sees prices is one permission (accounts.roles.sees_prices); an advisor sees them all."""

import pytest
from django.urls import reverse

from accounts.roles import SERVICE_ADVISOR, sees_prices
from repairs import services
from tests.helpers.admin import visible_text
from tests.helpers.builders.repairs import (
    add_job_with_lines,
    make_order,
    make_part,
    make_staff,
    take_to,
)

pytestmark = pytest.mark.django_db

# Figures of the order below, chosen so that none is an hour count or a date: rate, labor
# amount (1.5 h), part price, part cost, the job's amount.
FIGURES = ("97.00", "145.50", "55.00", "31.17", "200.50")
PRICE_WORDS = ("unit price", "rate per hour", "amount", "total", "unit cost", "discount")


@pytest.fixture
def work(tech):
    part = make_part("BP-1", cost="31.17", price="55.00")
    order = make_order()
    job = add_job_with_lines(
        order, title="Brakes", labor=[("1.5", "97.00")], parts=[(part, 1, None)], technician=tech
    )
    take_to(order, "in_progress")
    services.clock_in(tech, job)
    services.clock_out(tech)
    return {
        "order": order,
        "job": job,
        "part": part,
        "labor": job.labor_lines.get(),
        "part_line": job.part_lines.get(),
    }


def pages(work):
    return [
        reverse("admin:repairs_repairorder_changelist"),
        reverse("admin:repairs_repairorder_change", args=[work["order"].pk]),
        reverse("admin:repairs_repairorder_board"),
        reverse("admin:repairs_job_changelist"),
        reverse("admin:repairs_job_change", args=[work["job"].pk]),
        reverse("admin:repairs_laborline_changelist"),
        reverse("admin:repairs_laborline_change", args=[work["labor"].pk]),
        reverse("admin:repairs_partline_changelist"),
        reverse("admin:repairs_partline_change", args=[work["part_line"].pk]),
        reverse("admin:repairs_timeentry_changelist"),
        reverse("admin:inventory_part_changelist"),
        reverse("admin:inventory_part_change", args=[work["part"].pk]),
        reverse("admin:inventory_vehicle_change", args=[work["order"].vehicle_id]),
    ]


def test_prices_are_one_permission_technicians_lack(tech):
    advisor = make_staff("sam", SERVICE_ADVISOR)
    assert sees_prices(advisor) and not sees_prices(tech)


def test_a_technician_sees_no_figure_and_no_price_word_anywhere(client, tech, work):
    client.force_login(tech)
    for url in pages(work):
        response = client.get(url)
        assert response.status_code == 200, url
        html = response.content.decode()
        text = visible_text(html).lower()
        for figure in FIGURES:
            assert figure not in html, (url, figure)
        for word in PRICE_WORDS:
            assert word not in text, (url, word)
        assert 'name="labor_lines-0-rate"' not in html and "-price" not in html, url


def test_a_technician_is_offered_no_print_pdf_or_history_that_would_show_prices(client, tech, work):
    client.force_login(tech)
    order_page = client.get(
        reverse("admin:repairs_repairorder_change", args=[work["order"].pk])
    ).content.decode()
    print_url = reverse("admin:repairs_repairorder_print", args=[work["order"].pk])
    assert print_url not in order_page and "PDF" not in order_page
    assert "historylink" not in order_page
    for name, pk in (
        ("laborline", work["labor"].pk),
        ("partline", work["part_line"].pk),
        ("repairorder", work["order"].pk),
    ):
        assert client.get(reverse(f"admin:repairs_{name}_history", args=[pk])).status_code == 403
    assert client.get(print_url).status_code == 403


def test_an_advisor_sees_the_same_pages_with_their_prices(client, work):
    client.force_login(make_staff("sam", SERVICE_ADVISOR))
    job_page = client.get(reverse("admin:repairs_job_change", args=[work["job"].pk]))
    html = job_page.content.decode()
    assert "97.00" in html and "145.50" in html and "55.00" in html
    order_page = client.get(
        reverse("admin:repairs_repairorder_change", args=[work["order"].pk])
    ).content.decode()
    assert "Total" in order_page and "200.50" in order_page
    assert reverse("admin:repairs_repairorder_print", args=[work["order"].pk]) in order_page
    assert "historylink" in order_page
    lines = visible_text(client.get(reverse("admin:repairs_laborline_changelist")).content.decode())
    assert "Rate per hour" in lines and "97.00" in lines
    parts = visible_text(client.get(reverse("admin:repairs_partline_changelist")).content.decode())
    assert "Unit price" in parts and "55.00" in parts


def test_the_part_picker_shows_a_technician_no_price(client, tech, work):
    client.force_login(tech)
    response = client.get(
        reverse("admin:autocomplete"),
        {"app_label": "repairs", "model_name": "partline", "field_name": "part", "term": "BP"},
    )
    assert response.status_code == 200
    assert [row["text"] for row in response.json()["results"]] == ["BP-1 Part BP-1"]
    for figure in FIGURES:
        assert figure not in response.content.decode()
