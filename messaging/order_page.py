"""The "Message the customer" button on a repair order's page (repairs.order_page)."""

from django.urls import reverse

from messaging.orders import kinds_offered
from repairs import order_page


def may_send(user) -> bool:
    return user.has_perm("messaging.send_message") and user.has_perm("repairs.view_repairorder")


def message_button(request, order):
    if not may_send(request.user) or not kinds_offered(order):
        return []
    url = reverse("admin:messaging_message_send", args=[order.pk])
    return [("message", "Message the customer", "link", url)]


def register_buttons():
    order_page.register("messaging", message_button)
