"""The report pages' date ranges: each preset, the period compared with it, bad input."""

import datetime

import pytest

from reports.periods import Period, PeriodError, period_from_query, preset_period

D = datetime.date
TODAY = D(2026, 5, 20)  # a Wednesday


@pytest.mark.parametrize(
    "preset, start, end, before_start, before_end",
    [
        ("today", D(2026, 5, 20), D(2026, 5, 20), D(2026, 5, 19), D(2026, 5, 19)),
        ("week", D(2026, 5, 18), D(2026, 5, 20), D(2026, 5, 15), D(2026, 5, 17)),
        ("month", D(2026, 5, 1), D(2026, 5, 20), D(2026, 4, 1), D(2026, 4, 20)),
        ("last_month", D(2026, 4, 1), D(2026, 4, 30), D(2026, 3, 1), D(2026, 3, 31)),
        ("quarter", D(2026, 4, 1), D(2026, 5, 20), D(2026, 1, 1), D(2026, 2, 19)),
        ("year", D(2026, 1, 1), D(2026, 5, 20), D(2025, 1, 1), D(2025, 5, 20)),
    ],
)
def test_presets_and_the_period_before(preset, start, end, before_start, before_end):
    period = preset_period(preset, TODAY)
    assert (period.start, period.end) == (start, end)
    before = period.previous()
    assert (before.start, before.end) == (before_start, before_end)


def test_the_same_days_of_a_shorter_month_before():
    period = preset_period("month", D(2026, 3, 31))
    assert (period.previous().start, period.previous().end) == (D(2026, 2, 1), D(2026, 2, 28))


def test_custom_dates_compare_with_as_many_days_before():
    period = period_from_query({"period": "custom", "start": "2026-03-01", "end": "2026-03-10"})
    assert period.days == 10
    assert period.previous() == Period(D(2026, 2, 19), D(2026, 2, 28))
    assert period.querystring() == "period=custom&start=2026-03-01&end=2026-03-10"


def test_the_default_is_this_month():
    assert period_from_query({}, TODAY) == preset_period("month", TODAY)


@pytest.mark.parametrize(
    "query",
    [
        {"period": "custom", "start": "2026-02-30", "end": "2026-03-01"},
        {"period": "custom", "start": "", "end": "2026-03-01"},
        {"period": "custom", "start": "2026-03-02", "end": "2026-03-01"},
        {"period": "custom", "start": "2019-01-01", "end": "2026-03-01"},
        {"period": "custom", "start": "0001-01-01", "end": "0001-01-02"},
        {"period": "yesterday"},
    ],
)
def test_bad_input_is_a_period_error_with_a_message(query):
    with pytest.raises(PeriodError) as refused:
        period_from_query(query, TODAY)
    assert str(refused.value)
