"""With a read replica (DATABASE_REPLICA_URL), the API's list pages, the report pages, the
admin's exports and the export command read from it, and a user's own writes are read from the
primary right after they make them.

The test starts a real PostgreSQL primary and a streaming replica made from it with
pg_basebackup (on ports of their own, in a temporary folder), migrates the primary, and serves
Carshop with gunicorn on both, its cache in Redis as in production. Replay on the replica is then
paused, so whatever is written on the primary afterwards is missing on the replica: a page that
shows it read the primary, a page that does not read the replica.
"""

import csv
import io
import json
import os
import re
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
import redis
import requests

from tests.helpers import pgcluster

ROOT = Path(__file__).resolve().parent.parent
REDIS_URL = "redis://127.0.0.1:6379/15"
LISTINGS = "/api/v1/listings/"
LEADS = "/api/v1/leads/"

pytestmark = pytest.mark.postgresql

SETUP = """
import json
from accounts.models import User
from accounts.roles import MANAGER
from django.contrib.auth.models import Group
from tests.helpers.api import partner_with_key
from tests.helpers.builders.lot import make_unit

scopes = ["listings:read", "leads:write"]
_p, _k, poster = partner_with_key(name="CarsNow", scopes=scopes, kind="marketplace")
_p, _k, reader = partner_with_key(name="AutoHub", scopes=scopes, kind="marketplace")
manager = User.objects.create_user("mgr", password="Replica-test-pass-1", is_staff=True)
manager.groups.add(Group.objects.get(name=MANAGER))
unit = make_unit(stock_number="R-1")
print(json.dumps({"poster": poster, "reader": reader, "unit": unit.pk}))
"""

# Written on the primary behind the app's back (no request, so nobody's reads are pinned).
NEW_UNIT = """
from tests.helpers.builders import lot
lot._serial = iter(range(900, 1000))  # VINs this process has not made
print(lot.make_unit(stock_number="R-2").pk)
"""


def _required():
    return os.environ.get("REQUIRE_POSTGRES", "").lower() in {"1", "true", "yes"}


@pytest.fixture
def redis_prefix():
    client = redis.Redis.from_url(REDIS_URL)
    try:
        client.ping()
    except redis.ConnectionError:
        if _required():
            pytest.fail("needs Redis at 127.0.0.1:6379")
        pytest.skip("needs Redis at 127.0.0.1:6379")
    prefix = f"replica-test-{uuid.uuid4().hex[:8]}"
    yield client, prefix
    for key in client.scan_iter(f"{prefix}:*"):
        client.delete(key)


@pytest.fixture
def clusters():
    if not pgcluster.available():
        message = f"needs PostgreSQL's server programs in {pgcluster.PG_BIN}"
        if _required():
            pytest.fail(message)
        pytest.skip(message)
    with pgcluster.PrimaryAndReplica() as pair:
        yield pair


def _environment(pair, prefix):
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("DATABASE_", "CACHE_", "PYTEST", "DJANGO_SETTINGS"))
    }
    env.update(
        DJANGO_ENV="test",
        DATABASE_URL=pair.primary.url("carshop"),
        DATABASE_REPLICA_URL=pair.replica.url("carshop"),
        CACHE_URL=f"{REDIS_URL}?key_prefix={prefix}",
        REPLICA_PIN_SECONDS="600",
        PYTHONPATH=str(ROOT),
    )
    return env


def _manage(env, *arguments):
    result = subprocess.run(
        [sys.executable, "manage.py", *arguments],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return result.stdout.strip().splitlines()[-1] if result.stdout.strip() else ""


class Server:
    """gunicorn serving Carshop on a free port of 127.0.0.1."""

    def __init__(self, env):
        self.port = pgcluster.free_port()
        self.process = subprocess.Popen(
            [
                str(Path(sys.executable).parent / "gunicorn"),
                "--bind",
                f"127.0.0.1:{self.port}",
                "--workers",
                "2",
                "carshop.wsgi",
            ],
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        for _ in range(600):
            try:
                requests.get(self.url("/api/v1/"), timeout=30)
                return
            except requests.RequestException:  # not listening yet, or its workers loading
                if self.process.poll() is not None:
                    raise AssertionError(self.process.stderr.read().decode()[-3000:]) from None
                time.sleep(0.1)
        raise AssertionError("gunicorn did not answer")

    def url(self, path):
        return f"http://127.0.0.1:{self.port}{path}"

    def stop(self):
        self.process.terminate()
        self.process.wait(timeout=30)


class Partner:
    def __init__(self, server, key):
        self.server = server
        self.session = requests.Session()
        self.session.headers["Authorization"] = f"Api-Key {key}"

    def get(self, path):
        return self.session.get(self.server.url(path), timeout=30)

    def post(self, path, body):
        return self.session.post(self.server.url(path), json=body, timeout=30)

    def ids(self, path):
        response = self.get(path)
        assert response.status_code == 200, response.text
        return {row["id"] for row in response.json()["results"]}


class Browser:
    """A staff member's session: cookies and the CSRF token, as a browser sends them."""

    def __init__(self, server):
        self.server = server
        self.session = requests.Session()

    def log_in(self, username, password):
        page = self.session.get(self.server.url("/admin/login/"), timeout=30).text
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page).group(1)
        response = self.session.post(
            self.server.url("/admin/login/?next=/admin/"),
            data={"csrfmiddlewaretoken": token, "username": username, "password": password},
            headers={"Referer": self.server.url("/admin/login/")},
            timeout=30,
        )
        assert response.url.endswith("/admin/"), "the log-in did not succeed"

    def exported_stock_units(self):
        """The admin's CSV export of the stock units list (every column the form offers)."""
        url = self.server.url("/admin/inventory/stockunit/export/")
        form = self.session.get(url, timeout=30).text
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', form).group(1)
        columns = dict.fromkeys(re.findall(r'name="(\w+)" resource-id="0"', form), "on")
        response = self.session.post(
            url,
            data={"csrfmiddlewaretoken": token, "format": "0", "resource": "0", **columns},
            headers={"Referer": url},
            timeout=60,
        )
        assert response.headers["Content-Type"].startswith("text/csv"), response.text[:300]
        rows = list(csv.DictReader(io.StringIO(response.content.decode("utf-8-sig"))))
        return {row["stock_number"] for row in rows}

    def units_in_stock(self):
        """The inventory aging report's CSV: the units on the lot, summed over its buckets."""
        response = self.session.get(self.server.url("/admin/reports/lot-aging/csv/"), timeout=30)
        assert response.status_code == 200
        rows = csv.DictReader(io.StringIO(response.text))
        return sum(int(row["Units"] or 0) for row in rows)


def _lead(unit):
    return {
        "stock_unit": unit,
        "first_name": "Jo",
        "last_name": "Rivera",
        "email": "jo@example.com",
        "phone": "+1 217 555 0100",
        "message": "Is it still available?",
        "source_reference": "cn-1",
    }


def test_lists_and_reports_read_the_replica_and_a_users_own_writes_the_primary(
    clusters, redis_prefix
):
    redis_client, prefix = redis_prefix
    pair = clusters
    assert pair.is_replica()
    pair.sql(pair.primary, "CREATE DATABASE carshop")
    env = _environment(pair, prefix)
    _manage(env, "migrate", "--no-input", "--verbosity", "0")
    made = json.loads(_manage(env, "shell", "-c", SETUP))
    pair.wait_for_replica()

    server = Server(env)
    try:
        poster, reader = Partner(server, made["poster"]), Partner(server, made["reader"])
        manager = Browser(server)
        manager.log_in("mgr", "Replica-test-pass-1")
        # The log-in was a write: the manager's reads stay on the primary for a while. Here
        # that while is over (as REPLICA_PIN_SECONDS after it would be).
        for key in redis_client.scan_iter(f"{prefix}:*replica-pin:*"):
            redis_client.delete(key)
        assert reader.ids(LISTINGS) == {made["unit"]}
        assert manager.units_in_stock() == 1

        pair.pause_replay()
        new_unit = int(_manage(env, "shell", "-c", NEW_UNIT))

        # Written on the primary, not yet on the replica: the lists and the report do not
        # show it, so they read the replica; one listing, read by its id, is on the primary.
        assert reader.ids(LISTINGS) == {made["unit"]}
        assert manager.units_in_stock() == 1
        listing = reader.get(f"{LISTINGS}{new_unit}/")
        assert listing.status_code == 200 and listing.json()["id"] == new_unit
        assert pair.sql(pair.replica, "SELECT count(*) FROM inventory_stockunit", "carshop") == "1"

        # A partner posts a lead, then lists its leads: its own write is there at once, read
        # from the primary (the replica has no lead at all).
        lead = poster.post(LEADS, _lead(made["unit"]))
        assert lead.status_code == 201, lead.text
        assert poster.ids(LEADS) == {lead.json()["id"]}
        assert poster.ids(LISTINGS) == {made["unit"], new_unit}
        assert pair.sql(pair.replica, "SELECT count(*) FROM sales_lead", "carshop") == "0"
        # The other partner made no write: it still reads the replica.
        assert reader.ids(LISTINGS) == {made["unit"]}
        assert manager.units_in_stock() == 1

        # The export command and the admin's export read the replica too.
        output = pair.root / "stock.csv"
        _manage(env, "export", "--format=csv", "--tables=stock", f"--output={output}")
        with open(output, newline="", encoding="utf-8-sig") as exported:
            assert [row["stock_number"] for row in csv.DictReader(exported)] == ["R-1"]
        assert manager.exported_stock_units() == {"R-1"}

        # Once the replica has replayed the primary, everyone sees everything.
        pair.resume_replay()
        pair.wait_for_replica()
        assert reader.ids(LISTINGS) == {made["unit"], new_unit}
        assert manager.units_in_stock() == 2
    finally:
        server.stop()
