"""Signed, expiring links that show a customer their estimate (no login).

The token carries the order's id and number, signed with the project's SECRET_KEY and a time
stamp (django.core.signing.TimestampSigner); it expires after ShopSettings.estimate_link_days.
A tampered, expired or unknown token, or one of another order, gives None: the view answers them
all with the same page. A genuine, unexpired token of an order past the point of customer
decisions gives the order too (order_for_token), so the customer who opens the link again is told
what was decided rather than that the link is bad.
"""

from datetime import timedelta

from django.core import signing

from accounts.models import ShopSettings
from repairs.choices import EDITABLE_STATUSES
from repairs.models import RepairOrder

SALT = "repairs.estimate-link"


def _signer():
    return signing.TimestampSigner(salt=SALT)


def estimate_token(repair_order):
    return _signer().sign_object({"ro": repair_order.pk, "n": repair_order.number}, compress=True)


def repair_order_for_token(token, queryset=None):
    """The order a valid, unexpired token is for while it still takes decisions, else None."""
    order = order_for_token(token, queryset)
    return order if order is not None and takes_decisions(order) else None


def takes_decisions(repair_order):
    """Whether the customer may still approve or decline jobs of the order through its link."""
    return repair_order.status in EDITABLE_STATUSES


def order_for_token(token, queryset=None):
    """The customer's order a valid, unexpired token is for, whatever its status, else None.
    How long a link lasts is a setting of the order's location."""
    try:
        data = _signer().unsign_object(token)
    except (signing.BadSignature, ValueError, TypeError):
        return None
    if not isinstance(data, dict) or not isinstance(data.get("ro"), int):
        return None
    queryset = queryset if queryset is not None else RepairOrder.objects.all()
    order = queryset.filter(pk=data["ro"], number=str(data.get("n")), internal=False).first()
    if order is None:
        return None
    max_age = timedelta(days=ShopSettings.of(order.location_id).estimate_link_days)
    try:
        _signer().unsign_object(token, max_age=max_age)
    except signing.BadSignature:  # SignatureExpired is a BadSignature
        return None
    return order
