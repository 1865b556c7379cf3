"""What the figure modules share: rounding of percents and ratios, the admin list links, the
days or months a period's series is cut into."""

import datetime
from decimal import ROUND_HALF_UP, Decimal
from urllib.parse import urlencode

from django.db.models import DateField, DecimalField
from django.db.models.functions import TruncDate, TruncMonth
from django.urls import reverse

MONEY = DecimalField(max_digits=14, decimal_places=2)


def percent(part, whole):
    """part / whole as a percent with one decimal, None when whole is zero."""
    if not whole:
        return None
    return (Decimal(part) * 100 / Decimal(whole)).quantize(Decimal("0.1"), ROUND_HALF_UP)


def ratio(part, whole, places="0.01"):
    if not whole:
        return None
    return (Decimal(part) / Decimal(whole)).quantize(Decimal(places), ROUND_HALF_UP)


def hours(duration):
    """A summed duration (timedelta or None) in hours, to the hundredth."""
    if not duration:
        return Decimal("0.00")
    return (Decimal(duration.total_seconds()) / 3600).quantize(Decimal("0.01"))


def admin_list(name, **filters):
    url = reverse(f"admin:{name}_changelist")
    return f"{url}?{urlencode(filters)}" if filters else url


def between(field, period):
    """Admin list filters for `field` (a datetime) within the period."""
    return {f"{field}__gte": period.start_at.isoformat(), f"{field}__lt": period.end_at.isoformat()}


def daily(period):
    return period.days <= 62


def buckets(period):
    """The days (up to two months) or the first days of the months of a period."""
    if daily(period):
        return [period.start + datetime.timedelta(days=n) for n in range(period.days)]
    months, day = [], period.start.replace(day=1)
    while day <= period.end:
        months.append(day)
        day = (day + datetime.timedelta(days=32)).replace(day=1)
    return months


def truncate(field, period):
    return TruncDate(field) if daily(period) else TruncMonth(field, output_field=DateField())


def bucket_end(day, period):
    if daily(period):
        return day
    return min(
        period.end, (day + datetime.timedelta(days=32)).replace(day=1) - datetime.timedelta(days=1)
    )
