"""Records in a workflow are canceled through their service, never deleted from the admin: no
Delete button, page or bulk action for them, and a request for one is refused with a message
and changes nothing. Drafts that may be deleted still can be."""

import pytest
from django.contrib.messages import get_messages
from django.urls import reverse

from inventory import services as inventory_services
from inventory.models import PurchaseOrder, StockUnit
from repairs import services as repair_services
from repairs.models import Job, RepairOrder, TimeEntry
from sales import services as sales_services
from sales.models import Deal
from tests.helpers.builders.inventory import make_part, make_supplier
from tests.helpers.builders.lot import make_deal, make_unit
from tests.helpers.builders.repairs import add_job_with_lines, make_order, take_to

pytestmark = pytest.mark.django_db


def messages_of(response):
    return [str(message) for message in get_messages(response.wsgi_request)]


def bulk_delete(client, changelist, *pks, confirm=True):
    data = {"action": "delete_selected", "_selected_action": [str(pk) for pk in pks]}
    if confirm:
        data["post"] = "yes"
    return client.post(changelist, data)


@pytest.fixture
def signed_deal(salesperson):
    deal = make_deal(salesperson=salesperson)
    sales_services.sign_deal(deal)
    return deal


def test_a_signed_deal_offers_no_delete_and_refuses_one(client, manager, signed_deal):
    client.force_login(manager)
    change = reverse("admin:sales_deal_change", args=[signed_deal.pk])
    delete = reverse("admin:sales_deal_delete", args=[signed_deal.pk])
    assert delete not in client.get(change).content.decode()

    for response in (client.get(delete), client.post(delete, {"post": "yes"})):
        assert response.status_code == 302 and response.url == change
        assert any("is signed: a deal past draft is canceled" in m for m in messages_of(response))

    assert Deal.objects.filter(pk=signed_deal.pk).exists()
    signed_deal.stock_unit.refresh_from_db()
    assert signed_deal.stock_unit.status == StockUnit.Status.RESERVED


def test_bulk_delete_of_a_signed_deal_deletes_nothing(client, manager, salesperson, signed_deal):
    draft = make_deal(salesperson=salesperson)
    client.force_login(manager)
    response = bulk_delete(client, reverse("admin:sales_deal_changelist"), signed_deal.pk, draft.pk)
    assert response.status_code == 302
    shown = messages_of(response)
    assert any(signed_deal.number in m for m in shown) and "Nothing was deleted." in shown
    assert Deal.objects.filter(pk__in=[signed_deal.pk, draft.pk]).count() == 2


def test_a_draft_deal_is_still_deleted(client, manager, salesperson):
    draft = make_deal(salesperson=salesperson)
    client.force_login(manager)
    delete = reverse("admin:sales_deal_delete", args=[draft.pk])
    assert (
        delete in client.get(reverse("admin:sales_deal_change", args=[draft.pk])).content.decode()
    )
    assert client.post(delete, {"post": "yes"}).status_code == 302
    assert not Deal.objects.filter(pk=draft.pk).exists()


def test_a_reserved_stock_unit_is_not_deleted(client, manager, signed_deal):
    unit = signed_deal.stock_unit
    client.force_login(manager)
    response = client.post(
        reverse("admin:inventory_stockunit_delete", args=[unit.pk]), {"post": "yes"}
    )
    assert response.status_code == 302
    assert StockUnit.objects.filter(pk=unit.pk).exists()
    assert (
        bulk_delete(client, reverse("admin:inventory_stockunit_changelist"), unit.pk).status_code
        == 302
    )
    assert StockUnit.objects.filter(pk=unit.pk).exists()


def test_a_unit_entered_by_mistake_is_deleted(client, manager):
    unit = make_unit()
    client.force_login(manager)
    bulk_delete(client, reverse("admin:inventory_stockunit_changelist"), unit.pk)
    assert not StockUnit.objects.filter(pk=unit.pk).exists()


def test_repair_orders_are_never_deleted_even_by_a_manager(client, manager):
    order = make_order()
    client.force_login(manager)
    assert (
        client.post(
            reverse("admin:repairs_repairorder_delete", args=[order.pk]), {"post": "yes"}
        ).status_code
        == 403
    )
    response = bulk_delete(client, reverse("admin:repairs_repairorder_changelist"), order.pk)
    assert response.status_code == 302
    assert any(
        "Repair orders are canceled (action Cancel), never deleted" in m
        for m in messages_of(response)
    )
    assert RepairOrder.objects.filter(pk=order.pk).exists()


def test_a_job_of_a_completed_order_is_not_deleted(client, manager):
    order = make_order()
    job = add_job_with_lines(order, title="Brakes", labor=[("1", "100.00")])
    take_to(order, "completed")
    client.force_login(manager)
    change = reverse("admin:repairs_job_change", args=[job.pk])
    delete = reverse("admin:repairs_job_delete", args=[job.pk])
    assert delete not in client.get(change).content.decode()
    response = client.post(delete, {"post": "yes"})
    assert response.status_code == 302 and response.url == change
    response = bulk_delete(client, reverse("admin:repairs_job_changelist"), job.pk)
    assert any("a job is removed only while its order is open" in m for m in messages_of(response))
    assert Job.objects.filter(pk=job.pk).exists()


def test_time_clocked_on_a_completed_order_stays(client, manager, technician):
    order = make_order()
    job = add_job_with_lines(order, title="Brakes", labor=[("1", "100.00")], technician=technician)
    take_to(order, "in_progress")
    repair_services.clock_in(technician, job)
    entry = repair_services.clock_out(technician)
    repair_services.complete_work(order)
    client.force_login(manager)
    response = client.post(
        reverse("admin:repairs_timeentry_delete", args=[entry.pk]), {"post": "yes"}
    )
    assert response.status_code == 302
    assert any("its hours are the technician's record" in m for m in messages_of(response))
    bulk_delete(client, reverse("admin:repairs_timeentry_changelist"), entry.pk)
    assert TimeEntry.objects.filter(pk=entry.pk).exists()


def test_a_placed_purchase_order_is_not_deleted_but_a_draft_is(client, manager):
    supplier = make_supplier()
    part = make_part("FLT-1")
    placed = inventory_services.place_purchase_order(
        inventory_services.create_purchase_order(supplier, [(part, 2)])
    )
    draft = inventory_services.create_purchase_order(supplier, [(part, 3)])
    client.force_login(manager)
    response = client.post(
        reverse("admin:inventory_purchaseorder_delete", args=[placed.pk]), {"post": "yes"}
    )
    assert response.status_code == 302
    assert any("only a draft is deleted" in m for m in messages_of(response))
    assert PurchaseOrder.objects.filter(pk=placed.pk).exists()
    client.post(reverse("admin:inventory_purchaseorder_delete", args=[draft.pk]), {"post": "yes"})
    assert not PurchaseOrder.objects.filter(pk=draft.pk).exists()


def test_someone_without_the_delete_permission_is_refused_outright(
    client, salesperson, signed_deal
):
    client.force_login(salesperson)
    response = client.post(
        reverse("admin:sales_deal_delete", args=[signed_deal.pk]), {"post": "yes"}
    )
    assert response.status_code == 403
    assert Deal.objects.filter(pk=signed_deal.pk).exists()


def test_a_job_of_an_estimate_is_removed_with_its_lines(client, advisor):
    order = make_order()
    part = make_part("PAD-9", on_hand=3)
    job = add_job_with_lines(
        order, title="Brakes", labor=[("1", "100.00")], parts=[(part, 1, None)]
    )
    client.force_login(advisor)
    delete = reverse("admin:repairs_job_delete", args=[job.pk])
    assert client.get(delete).status_code == 200
    assert client.post(delete, {"post": "yes"}).status_code == 302
    assert not Job.objects.filter(pk=job.pk).exists()
