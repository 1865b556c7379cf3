"""Fixtures shared by the tests: staff users of each role, logged-in clients, a seeded backup
folder, people at their own browsers."""

import pytest
from django.contrib.auth.models import Group

from accounts import roles
from accounts.models import User
from tests.helpers.browser import Person


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
    from carshop.ops.backups import testing

    folder = testing.configure(tmp_path, settings)
    testing.seed()
    yield folder
    testing.cleanup()


@pytest.fixture
def make_user(db):
    def make(username, role=None, *, staff=True, superuser=False, password="s3cret-Pass-word"):
        user = User.objects.create_user(
            username=username,
            password=password,
            is_staff=staff,
            is_superuser=superuser,
            email=f"{username}@example.com",
        )
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
def tech():
    """A technician made through the repairs builders (the service shop's tests)."""
    from tests.helpers.builders.repairs import make_staff

    return make_staff("terry", roles.TECHNICIAN)


@pytest.fixture
def login(client):
    """Log a user in through the admin (so axes, signals and logs see a real login)."""

    def do(user):
        client.force_login(user, backend="django.contrib.auth.backends.ModelBackend")
        return client

    return do


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
