"""Test set-up shared by every test: the test environment, and PostgreSQL-only tests.

Tests marked `postgresql` (row locks, concurrency) need a PostgreSQL database. On SQLite they are
skipped, so the README's `make test` passes as written, on a developer's machine and as CI's first
run alike. With REQUIRE_POSTGRES=1 they fail instead: CI's PostgreSQL run sets it, so a run that
lost its PostgreSQL cannot pass.

Tests marked `sqlite` check what only SQLite does (its file, its row text); on another database
they are skipped, and CI's PostgreSQL run deselects them (`-m "not sqlite"`).
"""

import os

os.environ.setdefault("DJANGO_ENV", "test")

import pytest


def _required(name):
    return os.environ.get(name, "").lower() in {"1", "true", "yes"}


@pytest.fixture(autouse=True)
def _postgresql_only(request):
    if request.node.get_closest_marker("postgresql") is None:
        return
    from django.db import connection

    if connection.vendor != "postgresql":
        message = f"needs PostgreSQL, the database is {connection.vendor}"
        if _required("REQUIRE_POSTGRES"):
            pytest.fail(message)
        pytest.skip(message)


@pytest.fixture(autouse=True)
def _sqlite_only(request):
    if request.node.get_closest_marker("sqlite") is None:
        return
    from django.db import connection

    if connection.vendor != "sqlite":
        pytest.skip(f"about SQLite, the database is {connection.vendor}")


CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")


@pytest.fixture
def chromium():
    """A real headless Chromium (the system's, driven by Playwright), closed after the test."""
    if not os.path.exists(CHROMIUM):
        message = f"needs Chromium at {CHROMIUM}"
        if _required("REQUIRE_BROWSER"):
            pytest.fail(message)
        pytest.skip(message)
    from playwright.sync_api import sync_playwright

    # Playwright runs an event loop in this thread; the test's own ORM calls stay synchronous.
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM,
            headless=True,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--no-first-run",
            ],
        )
        try:
            yield browser
        finally:
            browser.close()
            os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)


@pytest.fixture
def browser_page(chromium):
    """A page in a real headless Chromium."""
    page = chromium.new_page()
    page.set_default_timeout(15000)
    yield page
