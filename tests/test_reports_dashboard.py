"""The manager's dashboard shows the lot next to the shop: units sold and gross this month
against the same days of last month (with the trend), and the units on the lot now, the capital
they tie up and those past the aging target: each the figure of its report, with its link."""

from decimal import Decimal

import pytest
from django.urls import reverse

from reports.figures import lot
from reports.periods import preset_period
from reports.views import dashboard_figures
from tests.test_reports_lot import lot_world  # noqa: F401 (the worked example)

pytestmark = pytest.mark.django_db

D = Decimal


def _lot_panel(user):
    (panel,) = [p for p in dashboard_figures(user)["panels"] if p["label"] == "The lot this month"]
    return {item["label"]: item for item in panel["figures"]}


def test_the_lot_s_key_figures_are_its_reports_figures(manager, lot_world):  # noqa: F811
    cards = _lot_panel(manager)
    month = preset_period("month")
    # Delivered this month: A, B and C; unwound this month: C and E (delivered 40 days ago).
    assert cards["Units sold"]["current"] == 1
    # A's 4,700 + B's 1,000 + C's 1,000, less C's 1,000 and E's 1,000 unwound.
    assert cards["Total gross"]["current"] == D("4700.00")
    assert cards["Gross per deal"]["current"] == lot.gross_by_month(month).summary["total_per_deal"]
    aging = lot.inventory_aging(month).summary
    assert cards["Units on the lot now"]["current"] == aging["units"]
    assert cards["Capital tied up now"]["current"] == aging["capital"]
    assert cards["Past the aging target now"]["current"] == aging["past_target"]
    before = lot.units_sold(month.previous()).summary["units"]
    assert cards["Units sold"]["previous"] == before
    assert cards["Units sold"]["slug"] == "lot-units-sold"
    assert cards["Capital tied up now"]["slug"] == "lot-aging"


def test_the_lot_cards_are_on_the_manager_s_dashboard_with_links(login, manager, lot_world):  # noqa: F811
    html = login(manager).get(reverse("reports:index")).content.decode()
    assert "The lot this month" in html
    for slug in ("lot-units-sold", "lot-gross", "lot-aging"):
        assert reverse("reports:report", args=[slug]) + "?" in html


def test_without_the_lot_s_reports_the_dashboard_has_no_lot_cards(manager, lot_world):  # noqa: F811
    from django.contrib.auth.models import Permission

    manager.user_permissions.clear()
    for group in manager.groups.all():
        group.permissions.remove(Permission.objects.get(codename="view_lot_reports"))
    manager = type(manager).objects.get(pk=manager.pk)  # permissions are cached per user
    labels = [panel["label"] for panel in dashboard_figures(manager)["panels"]]
    assert labels == ["Today", "This month"]
