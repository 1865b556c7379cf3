"""Test set-up shared by every test: the test environment, and PostgreSQL-only tests.

Tests marked `postgresql` (row locks, concurrency) need a PostgreSQL database. On SQLite they are
skipped, unless REQUIRE_POSTGRES=1 (CI's PostgreSQL run), where finding no PostgreSQL fails them.
"""

import os

os.environ.setdefault("DJANGO_ENV", "test")

import pytest


def _require_postgres():
    return os.environ.get("REQUIRE_POSTGRES", "").lower() in {"1", "true", "yes"}


@pytest.fixture(autouse=True)
def _postgresql_only(request):
    if request.node.get_closest_marker("postgresql") is None:
        return
    from django.db import connection

    if connection.vendor != "postgresql":
        message = f"needs PostgreSQL, the database is {connection.vendor}"
        if _require_postgres():
            pytest.fail(message)
        pytest.skip(message)
