"""The messages sent to a customer, on their page (core.history). Bodies (which show prices:
estimates, invoices) only for who may see prices."""

from django.urls import reverse
from django.utils.http import urlencode

from accounts.models import Customer
from accounts.roles import sees_prices
from core.history import HistoryPanel, first_rows, register
from messaging.models import Message

ROWS_SHOWN = 10


def sees_messages(request):
    return request.user.has_perm("messaging.view_message")


def customer_messages(request, customer):
    if not sees_messages(request):
        return None
    rows, count = first_rows(
        Message.objects.filter(customer=customer)
        .select_related("repair_order")
        .order_by("-created_at", "-id"),
        ROWS_SHOWN,
    )
    list_url = (
        f"{reverse('admin:messaging_message_changelist')}?"
        f"{urlencode({'customer__id__exact': customer.pk})}"
    )
    opted_out = hasattr(customer, "opt_out") and customer.opt_out is not None
    return {
        "rows": rows,
        "count": count,
        "shown": len(rows),
        "list_url": list_url,
        "show_bodies": sees_prices(request.user),
        "opted_out": opted_out,
        "consents": customer.consent_reminders,
    }


def register_panels():
    """Called from MessagingConfig.ready()."""
    register(
        Customer,
        HistoryPanel(
            "messages",
            "Messages",
            "admin/messaging/history/messages.html",
            customer_messages,
            60,
            allowed=sees_messages,
        ),
    )
