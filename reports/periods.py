"""Date ranges a report covers: presets (today, this week, ...) and custom dates, and the
previous period of the same length to compare with.

A Period is inclusive of both dates. Figures filter on dates (`date__range=(start, end)`) or on
datetimes (`>= period.start_at`, `< period.end_at`, in the shop's time zone).
"""

import datetime
from dataclasses import dataclass

from django.utils import timezone

from core.errors import DomainError

PRESETS = {
    "today": "Today",
    "week": "This week",
    "month": "This month",
    "last_month": "Last month",
    "quarter": "This quarter",
    "year": "This year",
    "custom": "Custom dates",
}
DEFAULT_PRESET = "month"
# The longest range a report answers for (five years and a leap day).
MAX_DAYS = 5 * 366


class PeriodError(DomainError):
    """The dates asked for do not make a period (the page shows the message)."""


@dataclass(frozen=True)
class Period:
    start: datetime.date
    end: datetime.date  # inclusive
    preset: str = "custom"

    @property
    def days(self):
        return (self.end - self.start).days + 1

    @property
    def label(self):
        if self.start == self.end:
            return self.start.isoformat()
        return f"{self.start.isoformat()} - {self.end.isoformat()}"

    @property
    def start_at(self):
        """The first instant of the period, aware, in the current time zone."""
        return _midnight(self.start)

    @property
    def end_at(self):
        """The first instant after the period (exclusive bound)."""
        return _midnight(self.end + datetime.timedelta(days=1))

    def previous(self):
        """The period to compare with: the same preset one step back (last month for this
        month, yesterday for today, ...), or the same number of days just before."""
        if self.preset in ("month", "last_month"):
            end = self.start - datetime.timedelta(days=1)
            start = end.replace(day=1)
            if self.preset == "month":  # month to date: compare with the same days
                end = min(end, _add_days_in_month(start, self.days - 1))
            return Period(start, end, "custom")
        if self.preset == "quarter":
            end = self.start - datetime.timedelta(days=1)
            start = _quarter_start(end)
            return Period(start, min(end, start + datetime.timedelta(days=self.days - 1)), "custom")
        if self.preset == "year":
            start = self.start.replace(year=self.start.year - 1)
            end = _same_day_in_year(self.end, self.start.year - 1)
            return Period(start, end, "custom")
        end = self.start - datetime.timedelta(days=1)
        return Period(end - datetime.timedelta(days=self.days - 1), end, "custom")

    def querystring(self):
        if self.preset != "custom":
            return f"period={self.preset}"
        return f"period=custom&start={self.start.isoformat()}&end={self.end.isoformat()}"


def _midnight(day):
    return timezone.make_aware(datetime.datetime.combine(day, datetime.time.min))


def _quarter_start(day):
    return day.replace(month=(day.month - 1) // 3 * 3 + 1, day=1)


def _add_days_in_month(first, days):
    day = first + datetime.timedelta(days=days)
    if day.month != first.month:  # the previous month is shorter: its last day
        return (first.replace(day=28) + datetime.timedelta(days=4)).replace(
            day=1
        ) - datetime.timedelta(days=1)
    return day


def _same_day_in_year(day, year):
    try:
        return day.replace(year=year)
    except ValueError:  # 29 February
        return day.replace(year=year, day=28)


def preset_period(preset, today=None):
    """The Period a preset names, as of `today` (the shop's local date by default)."""
    today = today or timezone.localdate()
    if preset == "today":
        return Period(today, today, preset)
    if preset == "week":  # Monday to today
        return Period(today - datetime.timedelta(days=today.weekday()), today, preset)
    if preset == "month":
        return Period(today.replace(day=1), today, preset)
    if preset == "last_month":
        end = today.replace(day=1) - datetime.timedelta(days=1)
        return Period(end.replace(day=1), end, preset)
    if preset == "quarter":
        return Period(_quarter_start(today), today, preset)
    if preset == "year":
        return Period(today.replace(month=1, day=1), today, preset)
    raise PeriodError(f"Unknown period “{preset}”: choose one of {', '.join(PRESETS)}.")


def _parse_date(value, name):
    value = (value or "").strip()
    if not value:
        raise PeriodError(f"Enter the {name} date (YYYY-MM-DD).")
    try:
        return datetime.date.fromisoformat(value)
    except ValueError:
        raise PeriodError(f"“{value[:20]}” is not a valid {name} date: use YYYY-MM-DD.") from None


def period_from_query(query, today=None):
    """The Period a request's GET parameters ask for (period=<preset>, or period=custom with
    start and end). Raises PeriodError with a message for the page on bad input."""
    preset = query.get("period") or DEFAULT_PRESET
    if preset != "custom":
        return preset_period(preset, today)
    start = _parse_date(query.get("start"), "start")
    end = _parse_date(query.get("end"), "end")
    if end < start:
        raise PeriodError("The end date is before the start date.")
    if (end - start).days + 1 > MAX_DAYS:
        raise PeriodError("A report covers at most five years: choose a shorter range.")
    if start.year < 1900:
        raise PeriodError("Choose a start date after 1900.")
    return Period(start, end, "custom")
