"""/health/ tells its checks' details (names, errors, disk and backup state) only to the private
network and to logged-in staff; nginx serves it only to the private network, over HTTP and over
HTTPS alike."""

import json
import re
from pathlib import Path

import pytest

pytestmark = pytest.mark.django_db

NGINX = Path(__file__).resolve().parent.parent / "deploy" / "nginx"
OUTSIDE = {"REMOTE_ADDR": "203.0.113.5"}


@pytest.mark.parametrize("path", ["/health/", "/health/live/"])
def test_outsiders_learn_only_whether_the_site_is_healthy(client, path):
    response = client.get(f"{path}?format=json", **OUTSIDE)
    assert response.status_code == 200
    assert json.loads(response.content) == {"status": "healthy"}

    page = client.get(path, **OUTSIDE)
    assert page.content == b"healthy\n" and "Database" not in page.content.decode()


def test_outsiders_do_not_see_why_it_is_unhealthy(client, settings, tmp_path):
    settings.LOG_DIR = tmp_path / "missing"
    response = client.get("/health/?format=json", **OUTSIDE)
    assert response.status_code == 500
    assert json.loads(response.content) == {"status": "unhealthy"}
    assert b"log folder" not in response.content


@pytest.mark.parametrize("address", ["127.0.0.1", "10.1.2.3", "192.168.0.10", "::1"])
def test_the_private_network_sees_every_check(client, address):
    response = client.get("/health/?format=json", REMOTE_ADDR=address)
    assert response.status_code == 200
    assert "Database" in json.dumps(json.loads(response.content))


def test_staff_see_every_check_from_anywhere(client, operator):
    client.force_login(operator, backend="django.contrib.auth.backends.ModelBackend")
    response = client.get("/health/?format=json", **OUTSIDE)
    assert "Database" in json.dumps(json.loads(response.content))


def test_behind_nginx_the_clients_address_decides_not_a_forged_one(client, settings):
    settings.TRUSTED_PROXY_COUNT = 1
    # nginx appends the real client (203.0.113.5) after what the client claimed (10.0.0.1).
    forged = client.get(
        "/health/?format=json",
        REMOTE_ADDR="127.0.0.1",
        HTTP_X_FORWARDED_FOR="10.0.0.1, 203.0.113.5",
    )
    probe = client.get(
        "/health/?format=json", REMOTE_ADDR="127.0.0.1", HTTP_X_FORWARDED_FOR="10.0.0.7"
    )
    assert json.loads(forged.content) == {"status": "healthy"}
    assert "Database" in probe.content.decode()


def server_blocks(site):
    text = "\n".join(line.split("#", 1)[0] for line in (NGINX / site).read_text().splitlines())
    return re.findall(r"^server \{.*?^\}", text, flags=re.S | re.M)


@pytest.mark.parametrize("site", ["carapp.conf", "carapp-staging.conf"])
@pytest.mark.parametrize("port", ["80", "443"])
def test_nginx_lets_only_the_private_network_reach_health(site, port):
    block = next(b for b in server_blocks(site) if re.search(rf"listen {port}\b", b))
    health = re.search(r"location (?:\^~|=) /health/ \{(.*?)\}", block, flags=re.S)
    assert health, f"{site} port {port}: no /health/ location"
    rules = re.findall(r"^\s*(allow|deny) ([^;]+);", health.group(1), flags=re.M)
    assert rules[-1] == ("deny", "all")
    assert {address for verb, address in rules if verb == "allow"} <= {
        "127.0.0.1",
        "::1",
        "10.0.0.0/8",
        "172.16.0.0/12",
        "192.168.0.0/16",
    }
    if port == "443":
        assert health.group(0).startswith("location ^~ /health/")  # /health/live/ too
