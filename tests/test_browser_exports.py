"""A manager exports a filtered admin list from the browser (the Content-Security-Policy holds)."""

import csv

import pytest

from repairs.models import RepairOrder
from tests.helpers.exports import changelist_url, model_columns, repair_orders


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_a_manager_filters_repair_orders_and_downloads_them_as_csv(people, manager):
    query, wanted = repair_orders()
    person = people.open().log_in("manager")
    page = person.page

    person.go(changelist_url(RepairOrder))
    page.click(f"#changelist-filter a[href='{query}']")
    page.wait_for_load_state()
    assert page.locator("#result_list tbody tr").count() == 1
    page.click("a.export_link")
    page.wait_for_load_state()
    # "Select all" works under the Content-Security-Policy (no inline handler).
    number = page.locator("#id_repairorderresource_number")
    page.uncheck(".select-toggle")
    assert not number.is_checked()
    page.check(".select-toggle")
    assert number.is_checked()
    page.select_option("#id_format", label="csv")
    with page.expect_download() as download_info:
        page.click("input[type=submit]")

    with open(download_info.value.path(), newline="", encoding="utf-8-sig") as handle:
        rows = list(csv.reader(handle))
    assert download_info.value.suggested_filename.endswith(".csv")
    assert rows[0] == model_columns(RepairOrder)
    assert [int(row[0]) for row in rows[1:]] == wanted
