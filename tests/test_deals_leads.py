"""Leads: who is interested, who follows up and when, and closing them as lost."""

from datetime import timedelta

import pytest
from django.db import IntegrityError, transaction
from django.utils import timezone

from accounts import roles
from sales import services
from sales.models import Lead
from tests.helpers.builders.lot import make_customer, make_unit

LIST = "/admin/sales/lead/"
pytestmark = pytest.mark.django_db


def lead(**fields):
    fields.setdefault("customer", make_customer())
    fields.setdefault("source", Lead.Source.WEBSITE)
    return Lead.objects.create(**fields)


def test_lead_list_queries_do_not_grow_with_rows(salesperson, login, django_assert_max_num_queries):
    client = login(salesperson)
    unit = make_unit()
    lead(stock_unit=unit, salesperson=salesperson)
    with django_assert_max_num_queries(8):
        assert client.get(LIST).status_code == 200
    customers = [make_customer(f"C{i}", "Lead") for i in range(49)]
    Lead.objects.bulk_create(
        Lead(customer=c, source="phone", stock_unit=unit, salesperson=salesperson)
        for c in customers
    )
    with django_assert_max_num_queries(8):
        response = client.get(LIST)
    assert response.content.count(b'class="field-customer_column') == 50


def test_overdue_follow_ups_are_marked_and_filtered(salesperson, login):
    today = timezone.localdate()
    lead(customer=make_customer("Late", "Caller"), next_follow_up=today - timedelta(days=2))
    lead(customer=make_customer("Soon", "Caller"), next_follow_up=today + timedelta(days=2))
    client = login(salesperson)
    page = client.get(LIST).content.decode()
    late_row = next(row for row in page.split("<tr") if "Caller, Late" in row)
    assert 'title="Overdue"' in late_row
    overdue = client.get(LIST, {"follow_up": "overdue"}).content.decode()
    assert "Caller, Late" in overdue and "Caller, Soon" not in overdue
    week = client.get(LIST, {"follow_up": "week"}).content.decode()
    assert "Caller, Soon" in week and "Caller, Late" not in week


def test_search_finds_leads_by_customer_phone_and_stock_number(salesperson, login):
    unit = make_unit(stock_number="LEAD-1")
    lead(customer=make_customer("Ada", "Wanted", phone="(217) 555-0199"), stock_unit=unit)
    lead(customer=make_customer("Bob", "Ignored"))
    client = login(salesperson)
    for term in ("Wanted", "555-0199", "LEAD-1"):
        page = client.get(LIST, {"q": term}).content.decode()
        assert "Wanted, Ada" in page and "Ignored, Bob" not in page


def test_marking_a_lead_lost_asks_why_and_needs_an_answer(salesperson, login):
    item = lead(next_follow_up=timezone.localdate())
    client = login(salesperson)
    asked = client.post(LIST, {"action": "mark_lost", "_selected_action": [item.pk]})
    assert b"These leads are closed as lost." in asked.content
    client.post(
        LIST, {"action": "mark_lost", "_selected_action": [item.pk], "apply": "yes", "reason": ""}
    )
    assert Lead.objects.get(pk=item.pk).status == Lead.Status.NEW
    client.post(
        LIST,
        {
            "action": "mark_lost",
            "_selected_action": [item.pk],
            "apply": "yes",
            "reason": "Bought elsewhere",
        },
    )
    item.refresh_from_db()
    assert (item.status, item.lost_reason, item.next_follow_up) == (
        Lead.Status.LOST,
        "Bought elsewhere",
        None,
    )


def test_assign_to_me_takes_open_leads_only(salesperson, make_user, login):
    other = make_user("jordan", roles.SALESPERSON)
    open_lead = lead(salesperson=other)
    lost = lead(salesperson=other, status=Lead.Status.LOST, lost_reason="No budget")
    page = (
        login(salesperson)
        .post(
            LIST,
            {"action": "assign_to_me", "_selected_action": [open_lead.pk, lost.pk]},
            follow=True,
        )
        .content.decode()
    )
    assert "1 lead(s) assigned to you." in page
    assert "is lost; it needs no salesperson." in page
    assert Lead.objects.get(pk=open_lead.pk).salesperson == salesperson
    assert Lead.objects.get(pk=lost.pk).salesperson == other


def test_the_form_cannot_mark_a_lead_won_or_lost(salesperson, login):
    page = login(salesperson).get(f"{LIST}add/").content.decode()
    assert 'value="negotiating"' in page
    assert 'value="won"' not in page and 'value="lost"' not in page


def test_database_refuses_a_lost_lead_without_a_reason():
    with pytest.raises(IntegrityError), transaction.atomic():
        lead(status=Lead.Status.LOST)


def test_mark_lost_service_refuses_a_closed_lead():
    item = lead(status=Lead.Status.WON)
    with pytest.raises(services.DealError, match="is won"):
        services.mark_lead_lost(item, reason="Too late")
