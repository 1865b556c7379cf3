"""Reading the JSON logs: rotated and compressed copies, periods, percentiles, endpoints."""

import pytest
from django.conf import settings
from django.core.management.base import CommandError

from carshop.ops.logs.reading import (
    LogReader,
    exception_place,
    latency_summary,
    log_files,
    normalize_path,
    normalize_sql,
    parse_period,
    percentile,
    request_statistics,
)
from tests.helpers.logs import ago, line, request, traceback_text, write_log


def test_percentiles_interpolate_between_ranks_on_a_worked_example():
    durations = [100, 200, 300, 400, 500, 600, 700, 800, 900, 1000]
    # rank = (n - 1) * p / 100: p50 -> 4.5, between 500 and 600; p95 -> 8.55; p99 -> 8.91.
    assert percentile(durations, 50) == pytest.approx(550)
    assert percentile(durations, 95) == pytest.approx(955)
    assert percentile(durations, 99) == pytest.approx(991)
    assert percentile(durations, 0) == 100
    assert percentile(durations, 100) == 1000
    assert percentile(reversed(durations), 50) == pytest.approx(550)  # order does not matter


def test_percentile_of_one_value_is_that_value_and_of_none_is_none():
    assert percentile([42.0], 99) == 42.0
    assert percentile([], 50) is None
    with pytest.raises(ValueError):
        percentile([1, 2], 101)


def test_latency_summary_rounds_to_a_tenth_of_a_millisecond():
    summary = latency_summary([1.04, 2.0, 3.0, 5.0])
    assert summary == {
        "count": 4,
        "p50_ms": 2.5,
        "p95_ms": 4.7,
        "p99_ms": 4.9,
        "max_ms": 5.0,
        "mean_ms": 2.8,
    }


@pytest.mark.parametrize(
    ("path", "endpoint"),
    [
        ("/admin/accounts/customer/123/change/", "/admin/accounts/customer/{id}/change/"),
        ("/admin/accounts/customer/", "/admin/accounts/customer/"),
        ("/api/v1/vehicles/1HGCM82633A004352/", "/api/v1/vehicles/{id}/"),
        ("/api/v1/repair-orders/7/?page=2", "/api/v1/repair-orders/{id}/"),
        ("/files/0f8fad5b-d9cb-469f-a165-70867728950e/", "/files/{id}/"),
        (
            "/admin/inventory/purchaseorder/42/history/",
            "/admin/inventory/purchaseorder/{id}/history/",
        ),
        ("/api/v1/", "/api/v1/"),
    ],
)
def test_paths_become_endpoints_with_ids_replaced(path, endpoint):
    assert normalize_path(path) == endpoint


def test_request_statistics_group_by_method_and_endpoint():
    now = ago(minutes=1)
    entries = [
        {
            "time": now,
            "method": "GET",
            "path": f"/admin/accounts/customer/{n}/change/",
            "status": 200,
            "duration_ms": float(n * 100),
        }
        for n in range(1, 11)
    ] + [
        {
            "time": now,
            "method": "POST",
            "path": "/admin/accounts/customer/3/change/",
            "status": 500,
            "duration_ms": 5.0,
        },
    ]
    stats = request_statistics(entries)
    assert stats["requests"] == 11
    assert stats["status_classes"] == {"2xx": 10, "5xx": 1}
    first, second = stats["endpoints"]
    assert first["endpoint"] == "GET /admin/accounts/customer/{id}/change/"
    assert (first["count"], first["p50_ms"], first["p95_ms"], first["p99_ms"]) == (
        10,
        550.0,
        955.0,
        991.0,
    )
    assert second["endpoint"] == "POST /admin/accounts/customer/{id}/change/"
    assert second["server_errors"] == 1


def test_a_log_is_read_with_its_rotated_and_compressed_copies_within_the_period(tmp_path):
    write_log(
        tmp_path / "access.log.3.gz",
        [request(ago(days=3), "/old/", 1)],
        compressed=True,
        modified=ago(days=3),
    )
    write_log(
        tmp_path / "access.log.2.gz",
        [request(ago(hours=30), "/a/", 1), request(ago(hours=20), "/b/", 1)],
        compressed=True,
        modified=ago(hours=20),
    )
    write_log(
        tmp_path / "access.log.1", [request(ago(hours=10), "/c/", 1), "not json {", '["a list"]']
    )
    write_log(
        tmp_path / "access.log",
        [request(ago(hours=1), "/d/", 1), line(ago(hours=1), message="no path")],
    )
    write_log(tmp_path / "access.log.bak", [request(ago(hours=1), "/ignored/", 1)])
    write_log(tmp_path / "error.log", [request(ago(hours=1), "/other-log/", 1)])

    reader = LogReader("access.log", since=ago(hours=24), log_dir=tmp_path)
    paths = [entry.get("path") for entry in reader]

    assert paths == ["/b/", "/c/", "/d/", None]
    # The copy last written three days ago is not even opened.
    assert [path.name for path in reader.files] == ["access.log.2.gz", "access.log.1", "access.log"]
    assert reader.skipped == 2
    assert reader.lines == 4


def test_log_files_come_oldest_first_also_with_dated_names(tmp_path):
    write_log(tmp_path / "db.log-20250101.gz", [], compressed=True, modified=ago(days=2))
    write_log(tmp_path / "db.log-20250102", [], modified=ago(days=1))
    write_log(tmp_path / "db.log", [])
    assert [path.name for path in log_files("db.log", tmp_path)] == [
        "db.log-20250101.gz",
        "db.log-20250102",
        "db.log",
    ]


@pytest.mark.parametrize("value", ["0h", "-3d", "3 weeks", "", "24"])
def test_a_bad_or_empty_period_is_refused_in_one_line(value):
    with pytest.raises(CommandError) as error:
        parse_period(value)
    assert "\n" not in str(error.value)


def test_exception_type_and_place_come_from_the_last_frame():
    text = traceback_text("ValueError", f"{settings.BASE_DIR}/repairs/services.py", 42)
    assert exception_place(text) == ("ValueError", "repairs/services.py:42")


def test_chained_exceptions_are_placed_where_the_last_one_was_raised():
    first = traceback_text("KeyError", f"{settings.BASE_DIR}/inventory/models.py", 10)
    second = traceback_text(
        "django.db.utils.IntegrityError",
        "/srv/venv/lib/python3.11/site-packages/django/db/backends/utils.py",
        105,
        message="duplicate key\nDETAIL: Key (vin)=(X) exists.",
    )
    text = (
        f"{first}\n\nDuring handling of the above exception, another exception occurred:"
        f"\n\n{second}"
    )
    assert exception_place(text) == (
        "django.db.utils.IntegrityError",
        "django/db/backends/utils.py:105",
    )


def test_sql_literals_are_replaced_so_the_same_query_groups():
    one = normalize_sql("SELECT * FROM part WHERE id = 5 AND sku = 'AB-1' AND x IN (1, 2, 3)")
    two = normalize_sql("SELECT *  FROM part WHERE id = 77 AND sku = 'Z''9' AND x IN (4)")
    assert one == two == "SELECT * FROM part WHERE id = ? AND sku = ? AND x IN (...)"
