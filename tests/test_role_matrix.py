"""The admin follows the role matrix (accounts/roles.py), page by page.

Every registered admin model, every role (and a superuser), and view, add, change, delete and
every admin action, through HTTP requests to the real admin pages: the list, the add page, a
row's change page (its Save button; a POST by whoever may not change), its delete page, and a
POST of each action. What is expected comes from the matrix itself, less what the admin never
does by hand whatever the role (ADMIN_NEVER: ledgers, final documents, machine records) and
the workflow rule: a row past its draft is canceled through its service, never deleted.

On every page a role opens, what it must not see is absent: prices, rates, amounts and totals
for technicians, part costs for whoever lacks inventory.view_part_cost, and privileges
(superuser status, groups, user permissions) for everyone but a superuser.

The rows are built once for the module (in a transaction rolled back at its end); each test
runs in its own savepoint, so actions it performs are undone.
"""

import re
import uuid
from datetime import time, timedelta
from decimal import Decimal as D

import pytest
from axes.models import AccessAttempt, AccessFailureLog, AccessLog
from django.apps import apps
from django.contrib import admin
from django.contrib.auth.models import Group
from django.contrib.messages import get_messages
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from accounts import roles
from accounts import services as account_services
from accounts.models import User, WebhookDelivery, WebhookEvent, WebhookSubscription
from inventory import services as inventory_services
from inventory.models import MarkupRule, StockNumberSeries, Supplier
from messaging import defaults as messaging_defaults
from messaging.choices import Channel, Kind, RuleKind
from messaging.models import Message, MessageTemplate, OptOut, ReminderRule
from repairs import inspections
from repairs import services as repair_services
from repairs.choices import AppointmentStatus, PaymentMethod
from repairs.models import (
    Appointment,
    CannedJob,
    CannedJobLabor,
    CannedJobPart,
    EstimateSignature,
    InspectionTemplate,
    InspectionTemplatePoint,
)
from sales import services as sales_services
from sales.models import CommissionPlan, Lead
from tests.helpers.admin import visible_text
from tests.helpers.builders.lot import delivered_deal, make_deal
from tests.helpers.builders.repairs import (
    add_job_with_lines,
    make_customer,
    make_order,
    make_part,
    take_to,
)

SUPERUSER = "superuser"
ROLES = [
    roles.SERVICE_ADVISOR,
    roles.TECHNICIAN,
    roles.SALESPERSON,
    roles.MANAGER,
    roles.OPERATIONS,
    SUPERUSER,
    roles.PARTNER,
]

# What the admin never does by hand, whoever asks: rows written by services (ledgers, final
# documents, events, machine records), added elsewhere (jobs on their order, time by clocking
# in on a job), or kept (an issued key is revoked; the one shop settings row stays).
READ_ONLY = {"add", "change", "delete"}
ADMIN_NEVER = {
    "accounts.location": {"delete"},
    "accounts.partnerkey": {"delete"},
    "accounts.shopsettings": {"add", "delete"},
    "accounts.webhookdelivery": READ_ONLY,
    "accounts.webhookevent": READ_ONLY,
    "auditlog.logentry": READ_ONLY,
    "axes.accessattempt": {"add"},
    "axes.accessfailurelog": {"add"},
    "axes.accesslog": {"add"},
    "django_tasks_database.dbtaskresult": READ_ONLY,
    "inventory.odometerreading": READ_ONLY,
    "inventory.partstock": {"add", "delete"},
    # Messages are written by sending one from a repair order's page (messaging.services).
    "messaging.message": READ_ONLY,
    "inventory.purchaseorderline": READ_ONLY,
    "inventory.purchasereceipt": READ_ONLY,
    "inventory.purchasereceiptline": READ_ONLY,
    "inventory.stockmovement": READ_ONLY,
    "inventory.stocknumberseries": {"add", "delete"},
    "repairs.creditnote": {"change", "delete"},
    "repairs.documentsequence": READ_ONLY,
    "repairs.estimatesignature": READ_ONLY,
    "repairs.invoice": READ_ONLY,
    "repairs.job": {"add"},
    "repairs.laborline": READ_ONLY,
    "repairs.partline": READ_ONLY,
    "repairs.payment": {"change", "delete"},
    "repairs.repairorder": {"delete"},
    "repairs.repairorderevent": READ_ONLY,
    "repairs.timeentry": {"add"},
    "sales.commission": READ_ONLY,
}
# The module's row of these models is past its draft (a signed deal and its reserved unit, a
# received purchase order, a job of an invoiced order and its time, an appointment turned into
# an order, a webhook subscription with deliveries in the log):
# whoever may delete such rows is refused with a message (302 back to the row), not offered.
IN_WORKFLOW = {
    "sales.deal",
    "inventory.stockunit",
    "inventory.purchaseorder",
    "repairs.job",
    "repairs.timeentry",
    "repairs.appointment",
    "accounts.webhooksubscription",
}
# Lists whose rows are deleted one by one from their own page (a draft), never in bulk.
NO_BULK_DELETE = {"inventory.purchaseorder", "inventory.stocktransfer"}

# The permission each admin action needs: an action of the model's own ("change"...) or a
# permission of the matrix ("app.codename").
ACTION_PERMISSIONS = {
    "revoke_keys": "change",
    "cleanup_expired_attempts": "view",
    "reorder_selected": "inventory.add_purchaseorder",
    "move_to_lot": "change",
    "adjust_selected": "inventory.add_stockmovement",
    "place_selected": "change",
    "cancel_selected": "change",
    "receive_selected": "inventory.add_purchasereceipt",
    "start_reconditioning": "change",
    "make_available": "change",
    "wholesale": "change",
    "open_repair_order": "repairs.add_repairorder",
    "clock_in": "repairs.add_timeentry",
    "clock_out": "repairs.add_timeentry",
    "approve_in_person": "repairs.change_laborline",
    "approve_by_phone": "repairs.change_laborline",
    "decline_in_person": "repairs.change_laborline",
    "decline_by_phone": "repairs.change_laborline",
    "approve": "change",
    "start": "change",
    "complete": "change",
    "close_internal": "change",
    "cancel": "change",
    "invoice": "repairs.add_invoice",
    "sign": "change",
    "deliver": "change",
    "unwind": "sales.unwind_deal",
    "assign_to_me": "change",
    "mark_lost": "change",
    "send_handshake": "change",
}

# The module's figures: a labor rate, its amount for 1.5 h, a part's price and its cost, the
# job's amount. None is an hour count or part of a date.
PRICE_FIGURES = ("97.00", "145.50", "55.00", "200.50")
PART_COST = "31.17"
PRICE_WORDS = ("unit price", "rate per hour", "amount", "total", "discount", "unit cost")
PRIVILEGE_MARKS = (
    'name="is_superuser"',
    'name="groups"',
    'name="user_permissions"',
    "Superuser status",
    "User permissions",
)
# The audit log shows every change as it was recorded, money included; who may read it
# (managers, operations) is decided by the matrix, not by figure.
FIGURES_NOT_CHECKED = {"auditlog.logentry"}

REGISTERED = sorted(model._meta.label_lower for model in admin.site._registry)


def _models_by_app():
    by_app = {}
    for model in apps.get_models():
        by_app.setdefault(model._meta.app_label, []).append(model._meta.model_name)
    return by_app


GRANTED = {
    role: roles.expand(roles.ROLES[role], _models_by_app()) for role in ROLES if role != SUPERUSER
}


def may(role, app_label, codename):
    return role == SUPERUSER or (app_label, codename) in GRANTED[role]


class World:
    """One row of every model, people of every role."""

    def __init__(self):
        self.users = {}
        for role in ROLES:
            if role == SUPERUSER:
                user = User.objects.create_superuser("root", "root@example.com", "s3cret-Pass-word")
            else:
                user = User.objects.create_user(
                    f"user-{role.lower().replace(' ', '-')}",
                    password="s3cret-Pass-word",
                    is_staff=role != roles.PARTNER,
                    first_name=role.split()[0],
                )
                user.groups.add(Group.objects.get(name=role))
            self.users[role] = user
        tech, sales = self.users[roles.TECHNICIAN], self.users[roles.SALESPERSON]
        rows = {
            "accounts.user": User.objects.create_user("clerk", is_staff=False),
            "auth.group": Group.objects.get(name=roles.OPERATIONS),
        }

        # The service shop: an order worked by the technician, invoiced, paid in part, credited.
        customer = make_customer()
        part = make_part("BP-1", cost=PART_COST, price="55.00")
        order = make_order(customer=customer)
        job = add_job_with_lines(
            order,
            title="Brakes",
            labor=[("1.5", "97.00")],
            parts=[(part, 1, None)],
            technician=tech,
        )
        # An inspection with a point turned into a job, and the customer's signature.
        template = InspectionTemplate.objects.create(name="Role matrix checklist")
        InspectionTemplatePoint.objects.create(template=template, label="Front pads")
        inspection = inspections.start_inspection(order, template, user=tech)
        inspections.rate_item(inspection.items.get(), rating="urgent", notes="Worn")
        EstimateSignature.objects.create(
            repair_order=order,
            signed_name="Maria Garcia",
            client_ip="203.0.113.9",
            total=D("200.50"),
            jobs=[{"id": job.pk, "position": 1, "title": "Brakes"}],
        )
        take_to(order, "in_progress")
        repair_services.clock_in(tech, job)
        repair_services.clock_out(tech)
        repair_services.complete_work(order)
        invoice = repair_services.invoice_repair_order(order)
        repair_services.record_payment(invoice, D("10.00"), PaymentMethod.CASH)
        repair_services.issue_credit_note(invoice, D("5.00"), "Goodwill")
        appointment = Appointment.objects.create(
            date=timezone.localdate() + timedelta(days=1),
            time=time(9),
            customer=customer,
            vehicle=order.vehicle,
            concern="Noise",
            status=AppointmentStatus.CONVERTED,
        )
        canned = CannedJob.objects.create(name="Oil change")
        CannedJobLabor.objects.create(canned_job=canned, operation="Drain and fill", hours=D("0.5"))
        CannedJobPart.objects.create(canned_job=canned, part=part, quantity=1)
        inventory_services.record_odometer(order.vehicle, 50000, timezone.localdate())
        MarkupRule.objects.create(up_to=D("100.00"), multiplier=D("1.80"))

        # Purchasing: an order placed and received.
        supplier = Supplier.objects.create(name="Main Street NAPA")
        purchase = inventory_services.create_purchase_order(supplier, [(part, 2)])
        inventory_services.place_purchase_order(purchase)
        inventory_services.receive_purchase_order(purchase)

        # The lot: a deal delivered (a commission) and one signed (its unit reserved), a lead.
        CommissionPlan.objects.create(name="Standard", salesperson=sales, rate=D("20.00"))
        delivered_deal(salesperson=sales)
        deal = make_deal(salesperson=sales)
        sales_services.sign_deal(deal)
        Lead.objects.create(customer=customer, source=Lead.Source.WALK_IN, salesperson=sales)
        # The stock number series (migration-made; an earlier module's flush may have taken it).
        StockNumberSeries.objects.get_or_create(pk=1)

        # Partners and the webhook outbox.
        partner = account_services.create_partner("Fleet Co", slug="fleet-co")
        account_services.issue_key(partner, name="main", scopes=[roles_scope()])
        subscription = WebhookSubscription.objects.create(
            partner=partner, url="https://fleet.example.com/hook", events=[], secret="s"
        )
        event = WebhookEvent.objects.create(
            event_id=uuid.uuid4(), event_type="invoice.created", payload={}, scope=roles_scope()
        )
        WebhookDelivery.objects.create(event=event, subscription=subscription)

        # Messages to customers: the seeded templates (an earlier module's flush may have taken
        # them), one message sent, a reminder rule, an opt-out.
        messaging_defaults.seed(MessageTemplate)
        Message.objects.create(
            customer=customer,
            repair_order=order,
            kind=Kind.CAR_READY,
            channel=Channel.EMAIL,
            to="maria@example.com",
            body="Your car is ready.",
            idempotency_key="role-matrix",
        )
        ReminderRule.objects.create(
            name="Six months", kind=RuleKind.SERVICE_DUE_DATE, interval_days=180
        )
        OptOut.objects.create(customer=make_customer(last_name="Quiet"))

        # Lockouts.
        seen = {
            "username": "locked-lou",
            "ip_address": "203.0.113.5",
            "user_agent": "test",
            "http_accept": "*/*",
            "path_info": "/admin/login/",
        }
        AccessAttempt.objects.create(**seen, get_data="", post_data="", failures_since_start=5)
        AccessLog.objects.create(**seen)
        AccessFailureLog.objects.create(**seen, locked_out=True)

        # A draft transfer of parts from the default location to a second shop.
        from accounts.models import Location
        from inventory import transfer_services
        from inventory.models import Part

        second = Location.objects.create(code="second", name="Second Shop", kind="shop")
        transfer = transfer_services.create_transfer(
            Location.default(), second, [(Part.objects.order_by("pk").first(), 1)]
        )

        rows.update(
            {
                "inventory.stocktransfer": transfer,
                "repairs.repairorder": order,
                "repairs.job": job,
                "repairs.appointment": appointment,
                "repairs.inspection": inspection,
                "sales.deal": deal,
                "inventory.stockunit": deal.stock_unit,
                "inventory.purchaseorder": purchase,
            }
        )
        self.rows = {}
        for label in REGISTERED:
            model = apps.get_model(label)
            row = rows.get(label) or model._default_manager.order_by("pk").first()
            if row is not None:
                self.rows[label] = row.pk


def roles_scope():
    from accounts.scopes import SCOPES

    return next(iter(SCOPES))


@pytest.fixture(scope="module")
def world(django_db_setup, django_db_blocker):
    with django_db_blocker.unblock(), transaction.atomic():
        # The role groups as accounts/roles.py declares them, whatever an earlier module's
        # flush or migrations left behind.
        roles.apply_roles()
        yield World()
        transaction.set_rollback(True)


def test_every_registered_model_has_a_row_to_open(world):
    # Only the task results of the database queue have none (nothing was queued).
    assert set(REGISTERED) - set(world.rows) <= {"django_tasks_database.dbtaskresult"}


def admin_url(label, page, *args):
    return reverse(f"admin:{label.replace('.', '_')}_{page}", args=args)


def offered_actions(response):
    form = response.context.get("action_form")
    return set() if form is None else {value for value, _ in form.fields["action"].choices if value}


def expected_actions(label, role):
    app_label, model_name = label.split(".")
    never = ADMIN_NEVER.get(label, set())
    declared = list(admin.site._registry[apps.get_model(label)].actions or ())
    expected = set()
    for action in declared:
        needed = ACTION_PERMISSIONS[action]
        if "." in needed:
            allowed = may(role, *needed.split("."))
        else:
            allowed = needed not in never and (
                may(role, app_label, f"{needed}_{model_name}")
                or (needed == "view" and may(role, app_label, f"change_{model_name}"))
            )
        if allowed:
            expected.add(action)
    if (
        may(role, app_label, f"delete_{model_name}")
        and "delete" not in never
        and label not in NO_BULK_DELETE
    ):
        expected.add("delete_selected")
    return expected


def check_what_the_role_must_not_see(label, role, user, url, html):
    if role == SUPERUSER:
        for mark in ('name="is_superuser"', 'name="groups"'):
            if label == "accounts.user" and url.endswith("/change/"):
                assert mark in html, (url, mark)
        return
    for mark in PRIVILEGE_MARKS:
        if label in ("accounts.user",):
            assert mark not in html, (url, mark)
    if label in FIGURES_NOT_CHECKED:
        return
    if not roles.sees_prices(user):
        text = visible_text(html).lower()
        for figure in PRICE_FIGURES:
            assert figure not in html, (url, figure)
        if role == roles.TECHNICIAN:
            for word in PRICE_WORDS:
                assert word not in text, (url, word)
    if not user.has_perm("inventory.view_part_cost"):
        assert PART_COST not in html, (url, PART_COST)


def links_in_content(html, row_change):
    """The admin pages a change page links to from its content: not the menus, not the pages
    of its own row that the test opens anyway (change, delete, history)."""
    content = html[html.find('id="content"') :]
    links = set(re.findall(r'href="(/admin/[^"#?]*)"', content))
    own_row = row_change.removesuffix("change/")
    skipped = re.compile(r"^/admin/(\w+/)?$|^/admin/logout/")
    return sorted(
        link
        for link in links
        if not skipped.search(link)
        and link not in (own_row + "change/", own_row + "delete/", own_row + "history/")
    )


@pytest.mark.django_db
@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("label", REGISTERED)
def test_admin_pages_follow_the_role_matrix(client, world, label, role):
    user = User.objects.get(pk=world.users[role].pk)
    client.force_login(user)
    app_label, model_name = label.split(".")
    never = ADMIN_NEVER.get(label, set())
    can_view = may(role, app_label, f"view_{model_name}") or may(
        role, app_label, f"change_{model_name}"
    )
    can_add = may(role, app_label, f"add_{model_name}") and "add" not in never
    can_change = may(role, app_label, f"change_{model_name}") and "change" not in never
    can_delete = may(role, app_label, f"delete_{model_name}") and "delete" not in never
    changelist = admin_url(label, "changelist")
    pk = world.rows.get(label)

    if role == roles.PARTNER:  # never staff: every page sends to the login
        for url in [changelist, admin_url(label, "add")]:
            response = client.get(url)
            assert response.status_code == 302 and "/admin/login/" in response.url, url
        return

    opened = []
    response = client.get(changelist)
    assert response.status_code == (200 if can_view else 403), "list"
    if can_view:
        opened.append((changelist, response))
        assert offered_actions(response) == expected_actions(label, role), "actions offered"

    add = admin_url(label, "add")
    response = client.get(add)
    assert response.status_code == (200 if can_add else 403), "add page"
    if can_add:
        opened.append((add, response))

    if pk is not None:
        change = admin_url(label, "change", pk)
        response = client.get(change)
        assert response.status_code == (200 if can_view else 403), "change page"
        if can_view:
            opened.append((change, response))
            assert ('name="_save"' in response.content.decode()) == can_change, "Save button"
        if not can_change:
            assert client.post(change, {}).status_code == 403, "change by POST"

        delete = admin_url(label, "delete", pk)
        response = client.get(delete)
        if can_delete and label in IN_WORKFLOW:
            assert response.status_code == 302 and response.url == change, "delete refused"
        else:
            assert response.status_code == (200 if can_delete else 403), "delete page"
        # Deleted (302), or kept because other rows protect it (200, saying which).
        assert client.post(delete, {"post": "yes"}).status_code in (
            (200, 302)
            if can_delete and label not in IN_WORKFLOW
            else (302,)
            if can_delete
            else (403,)
        ), "delete by POST"
        if not can_delete or label in IN_WORKFLOW:
            assert apps.get_model(label)._default_manager.filter(pk=pk).exists(), "deleted"

    for url, response in opened:
        check_what_the_role_must_not_see(label, role, user, url, response.content.decode())
    if pk is not None and can_view:
        # What the row's page offers, the role may open (no button or link that answers 403).
        for link in links_in_content(opened[-1][1].content.decode(), change):
            assert client.get(link).status_code != 403, f"{change} offers {link}"

    if pk is None or not apps.get_model(label)._default_manager.filter(pk=pk).exists():
        return
    allowed = expected_actions(label, role)
    declared = {*admin.site._registry[apps.get_model(label)].actions, "delete_selected"}
    for action in sorted(declared):
        response = client.post(changelist, {"action": action, "_selected_action": [pk]})
        if not can_view:
            assert response.status_code == 403, action
        elif action in allowed:
            assert response.status_code in (200, 302), action
        elif allowed:
            # Refused: back to the list, saying so.
            assert response.status_code == 302, action
            shown = " ".join(str(m) for m in get_messages(response.wsgi_request))
            assert "No action selected." in shown or "are not deleted here." in shown, action
        else:
            # A list with no action for this role: the POST only shows the list again.
            assert response.status_code == 200 and offered_actions(response) == set(), action
    if "delete_selected" not in allowed or label in IN_WORKFLOW:
        assert apps.get_model(label)._default_manager.filter(pk=pk).exists(), "bulk delete"
