"""Fixtures shared by the tests: staff users of each role, logged-in clients."""

import pytest
from django.contrib.auth.models import Group

from accounts import roles
from accounts.models import User


@pytest.fixture(autouse=True)
def _fresh_cache():
    """Each test starts with an empty cache: rate-limit counters are kept per key id, and ids
    come back in the next test (SQLite rolls its sequences back), so one test's requests would
    count against another's key."""
    from django.contrib.contenttypes.models import ContentType
    from django.core.cache import cache

    cache.clear()
    # Content types are recreated (with new ids) when a transactional test flushes the
    # database, and some tests rebuild them inside a transaction that is rolled back: ids the
    # process cached from an earlier test may be gone.
    ContentType.objects.clear_cache()
    yield
    cache.clear()


@pytest.fixture
def backup_dir(tmp_path, settings):
    """The backup tests' starting point: a configured, empty backup folder and a seeded
    database, cleaned up afterwards."""
    from carshop.backups import testing

    folder = testing.configure(tmp_path, settings)
    testing.seed()
    yield folder
    testing.cleanup()


@pytest.fixture
def make_user(db):
    def make(username, role=None, *, staff=True, superuser=False, password="s3cret-Pass-word"):
        user = User.objects.create_user(username=username, password=password, is_staff=staff,
                                        is_superuser=superuser, email=f"{username}@example.com")
        if role:
            user.groups.add(Group.objects.get(name=role))
        return user

    return make


@pytest.fixture
def advisor(make_user):
    return make_user("advisor", roles.SERVICE_ADVISOR)


@pytest.fixture
def technician(make_user):
    return make_user("tech", roles.TECHNICIAN)


@pytest.fixture
def salesperson(make_user):
    return make_user("sales", roles.SALESPERSON)


@pytest.fixture
def manager(make_user):
    return make_user("manager", roles.MANAGER)


@pytest.fixture
def operator(make_user):
    return make_user("ops", roles.OPERATIONS)


@pytest.fixture
def login(client):
    """Log a user in through the admin (so axes, signals and logs see a real login)."""

    def do(user):
        client.force_login(user, backend="django.contrib.auth.backends.ModelBackend")
        return client

    return do


class Person:
    """One person at their own browser: a fresh context (own cookies), a desktop screen or a
    phone. Every 4xx/5xx answer to the page's requests, console error and uncaught script error
    is collected; the `people` fixture fails the test on any that was not expected."""

    DESKTOP = {"viewport": {"width": 1366, "height": 768}}
    PHONE = {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True,
             "device_scale_factor": 3}

    def __init__(self, browser, base_url, *, phone=False):
        self.base_url = base_url
        self.context = browser.new_context(base_url=base_url,
                                           **(self.PHONE if phone else self.DESKTOP))
        self.page = self.context.new_page()
        self.page.set_default_timeout(15000)
        self.problems = []
        self.expected = set()
        self.page.on("response", self._on_response)
        self.page.on("console", self._on_console)
        self.page.on("pageerror", lambda e: self.problems.append(f"script error: {e}"))

    def _on_response(self, response):
        if response.status >= 400:
            path = response.url.removeprefix(self.base_url)
            if (response.status, path) in self.expected:
                return
            self.problems.append(f"{response.status} {response.request.method} {path}")

    def _on_console(self, message):
        if message.type == "error":
            where = (message.location or {}).get("url", "").removeprefix(self.base_url)
            self.problems.append(f"console error at {where}: {message.text}")

    def expect_refusal(self, status, path):
        """A refusal the test itself provokes (a 403 for a page the role may not open)."""
        self.expected.add((status, path))

    def go(self, path):
        response = self.page.goto(path)
        self.page.wait_for_load_state()
        return response

    def log_in(self, username, password="s3cret-Pass-word"):
        self.go("/admin/login/")
        self.page.fill("#id_username", username)
        self.page.fill("#id_password", password)
        self.page.click("input[type=submit]")
        self.page.wait_for_load_state()
        assert "/admin/login/" not in self.page.url, f"{username} could not log in"
        return self

    def text(self, selector="#content"):
        return self.page.locator(selector).inner_text()


@pytest.fixture
def people(chromium, live_server):
    """`people.open(phone=False)` gives a new Person at the live server; the test fails on any
    unexpected 4xx/5xx, console error or script error any of them met."""

    class People:
        opened = []

        def open(self, *, phone=False):
            person = Person(chromium, live_server.url, phone=phone)
            self.opened.append(person)
            return person

    crowd = People()
    yield crowd
    problems = [problem for person in crowd.opened for problem in person.problems]
    for person in crowd.opened:
        person.context.close()
    assert not problems, "the browser met: " + "; ".join(problems)
