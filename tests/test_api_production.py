"""In production and staging, the partner API answers JSON only: the browsable API (HTML pages
with forms) is a development tool."""

import json
import uuid

import redis

from tests.helpers.commands import REALISTIC_PRODUCTION, run_manage

# The production settings' API root, asked for HTML as a browser does and for JSON, through the
# whole middleware stack; the cache is a Redis database and prefix of this test's own.
ASK = """
from django.test import Client
client = Client()
answers = {}
for accept in ("text/html", "application/json"):
    response = client.get("/api/v1/", HTTP_ACCEPT=accept, HTTP_HOST="shop.example.com",
                          secure=True)
    answers[accept] = [response.status_code, response["Content-Type"]]
print(json.dumps(answers))
"""


def test_production_serves_no_browsable_api():
    prefix = f"carshop-test-{uuid.uuid4().hex[:12]}"
    environment = {
        **REALISTIC_PRODUCTION,
        "CACHE_URL": f"redis://127.0.0.1:6379/15?key_prefix={prefix}",
    }
    try:
        result = run_manage(environment, "shell", "-c", "import json\n" + ASK, inherit=True)
    finally:
        client = redis.Redis.from_url("redis://127.0.0.1:6379/15")
        for name in client.scan_iter(match=f"{prefix}:*"):
            client.delete(name)
        client.close()
    assert result.returncode == 0, result.stderr
    answers = json.loads(result.stdout.strip().splitlines()[-1])
    assert answers["application/json"] == [200, "application/json"]
    status, content_type = answers["text/html"]
    assert status == 406 and content_type == "application/json"


def test_development_keeps_the_browsable_api(client):
    response = client.get("/api/v1/", HTTP_ACCEPT="text/html")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/html")
