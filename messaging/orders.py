"""Messages about a repair order, sent by an advisor from the order's page."""

from __future__ import annotations

from django.urls import reverse

from accounts.models import ShopSettings
from messaging import services
from messaging.choices import Kind
from messaging.exceptions import MessagingError
from messaging.models import Message
from repairs import links
from repairs.choices import EDITABLE_STATUSES, RepairOrderStatus
from repairs.documents import order_totals
from repairs.totals import Rates

READY_STATUSES = (RepairOrderStatus.COMPLETED, RepairOrderStatus.INVOICED, RepairOrderStatus.PAID)


def vehicle_label(vehicle) -> str:
    if vehicle is None:
        return "vehicle"
    words = [str(vehicle.model_year or ""), vehicle.make or "", vehicle.model or ""]
    return " ".join(word for word in words if word) or "vehicle"


def kinds_offered(order) -> list[str]:
    """What may be sent about this order now."""
    if order.internal or order.customer_id is None:
        return []
    kinds: list[str] = []
    if order.status in EDITABLE_STATUSES:
        kinds += [Kind.APPROVAL_LINK, Kind.ESTIMATE_PDF]
    if order.status in READY_STATUSES:
        kinds.append(Kind.CAR_READY)
    if getattr(order, "invoice", None) is not None:
        kinds.append(Kind.INVOICE_PDF)
    return kinds


def order_values(order, kind: str) -> dict[str, str]:
    values = {"order_number": order.number, "vehicle": vehicle_label(order.vehicle)}
    if kind == Kind.APPROVAL_LINK:
        path = reverse("repairs:customer_estimate", args=[links.estimate_token(order)])
        values["approval_link"] = services.base_url() + path
    if kind == Kind.ESTIMATE_PDF:
        totals = order_totals(order, Rates.from_settings(ShopSettings.current()))
        values["total"] = str(totals.total)
    if kind == Kind.INVOICE_PDF:
        invoice = order.invoice
        values["invoice_number"] = invoice.number
        values["total"] = str(invoice.total)
    return values


def send_for_order(order, kind: str, channel: str, *, user, idempotency_key: str):
    """Ask for one message about `order` (sent by the worker). Returns (message, created)."""
    existing = Message.objects.filter(idempotency_key=idempotency_key).first()
    if existing is not None:
        return existing, False
    if kind not in kinds_offered(order):
        raise MessagingError(
            f"{order.number} is {order.get_status_display().lower()}: “{Kind(kind).label}” "
            "cannot be sent now.",
            field="kind",
        )
    return services.request_message(
        order.customer,
        kind,
        channel,
        order_values(order, kind),
        idempotency_key=idempotency_key,
        location=getattr(order, "location", None),
        repair_order=order,
        user=user,
    )
