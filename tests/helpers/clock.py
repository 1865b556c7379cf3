"""Moments on the shop's calendar, for tests that back-date something by whole days.

`timezone.now() - timedelta(days=n)` steps back n times 24 hours: near midnight, across a change
of daylight saving time, that lands on another shop day than `timezone.localdate() - n` (and in
the evening the UTC date is already the next day). Tests that mean "n shop days ago" use these.
"""

import datetime

from django.utils import timezone


def shop_day(days_ago=0):
    """The shop's date `days_ago` days before today."""
    return timezone.localdate() - datetime.timedelta(days=days_ago)


def on_shop_day(days_ago, hour=12, minute=0):
    """An aware moment at hour:minute (noon by default) of the shop's day `days_ago` before
    today (negative: after today), in the shop's time zone."""
    return timezone.make_aware(
        datetime.datetime.combine(shop_day(days_ago), datetime.time(hour, minute))
    )
