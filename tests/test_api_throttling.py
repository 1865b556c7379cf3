"""Rate limits hold across worker processes (counted atomically in a shared Redis, which
`check --deploy` demands), and bad or missing keys are throttled per client address."""

import os
import subprocess
import sys
import textwrap
import uuid
from pathlib import Path

import pytest
import redis
from django.core import checks
from django.test import override_settings

from tests.helpers.api import key_client, partner_with_key

ROOT = Path(__file__).resolve().parent.parent
REDIS_URL = "redis://127.0.0.1:6379/15"
ME = "/api/v1/me/"


@pytest.fixture
def raw_redis():
    client = redis.Redis.from_url(REDIS_URL)
    try:
        client.ping()
    except redis.ConnectionError:
        if os.environ.get("CI", "").lower() in {"1", "true", "yes"}:
            pytest.fail("needs Redis at 127.0.0.1:6379")
        pytest.skip("needs Redis at 127.0.0.1:6379")
    prefix = f"carshop-test-throttle-{uuid.uuid4().hex[:12]}"
    yield client, prefix
    for name in client.scan_iter(match=f"{prefix}*"):
        client.delete(name)
    client.close()


# One gunicorn worker: its own Django, its own cache client; it waits at a barrier (a Redis list)
# until every worker is ready, then asks the key's throttle `attempts` times and prints how many
# requests passed.
WORKER = textwrap.dedent("""
    import sys

    import django
    import redis

    django.setup()
    from django.contrib.auth.models import AnonymousUser
    from django.test import RequestFactory
    from rest_framework.request import Request

    from accounts.api.throttling import ApiKeyRateThrottle
    from accounts.models import PartnerKey

    barrier, key_id, attempts = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    request = Request(RequestFactory().get("/api/v1/me/"))
    request._user, request._auth = AnonymousUser(), PartnerKey(pk=key_id, throttle_rate="5/day")
    coordinator = redis.Redis.from_url("{redis_url}", socket_timeout=None)  # it waits
    coordinator.rpush(barrier + ":ready", 1)
    assert coordinator.blpop(barrier + ":go", timeout=60), "the barrier never opened"
    print(sum(ApiKeyRateThrottle().allow_request(request, None) for _ in range(attempts)))
""").replace("{redis_url}", REDIS_URL)


def _requests_passed_in_workers(cache_url, barrier, workers=3, attempts=5):
    coordinator = redis.Redis.from_url(REDIS_URL, socket_timeout=None)  # it waits for them
    env = {
        **os.environ,
        "DJANGO_ENV": "test",
        "DJANGO_SETTINGS_MODULE": "carshop.settings",
        "CACHE_URL": cache_url,
    }
    key_id = str(uuid.uuid4().int % 10**9)
    processes = [
        subprocess.Popen(
            [sys.executable, "-c", WORKER, barrier, key_id, str(attempts)],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(workers)
    ]
    try:
        for _ in range(workers):  # every worker is ready: open the barrier for all at once
            assert coordinator.blpop(barrier + ":ready", timeout=60), "a worker did not start"
        coordinator.rpush(barrier + ":go", *[1] * workers)
        outputs = [process.communicate(timeout=60) for process in processes]
    finally:
        for process in processes:
            process.kill()
        coordinator.delete(barrier + ":ready", barrier + ":go")
    for process, (_out, err) in zip(processes, outputs, strict=True):
        assert process.returncode == 0, err
    return sum(int(out) for out, _err in outputs)


def test_a_keys_limit_holds_across_worker_processes_sharing_redis(raw_redis):
    _client, prefix = raw_redis
    shared = f"{REDIS_URL}?key_prefix={prefix}"

    # 3 workers at once, 5 requests each, a key limited to 5 a day: 5 pass in all.
    assert _requests_passed_in_workers(shared, f"{prefix}:barrier-redis") == 5

    # With a cache of each process's own, every worker lets its 5 through: what
    # accounts.E002 keeps out of production.
    assert (
        _requests_passed_in_workers("locmemcache://each-worker", f"{prefix}:barrier-locmem") == 15
    )


def _deploy_check_ids():
    return [
        message.id
        for message in checks.run_checks(include_deployment_checks=True)
        if message.id == "accounts.E002"
    ]


def test_deploy_check_fails_while_rate_limits_are_counted_in_a_cache_of_one_process(settings):
    throttles = settings.REST_FRAMEWORK["DEFAULT_THROTTLE_CLASSES"]
    assert throttles, "the API is throttled"
    with override_settings(
        CACHES={"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    ):
        (error,) = [
            message
            for message in checks.run_checks(include_deployment_checks=True)
            if message.id == "accounts.E002"
        ]
        assert "CACHE_URL" in error.hint and "redis://" in error.hint
    with override_settings(
        CACHES={
            "default": {
                "BACKEND": "django.core.cache.backends.redis.RedisCache",
                "LOCATION": REDIS_URL,
            }
        }
    ):
        assert _deploy_check_ids() == []
    with override_settings(
        CACHES={"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}},
        REST_FRAMEWORK={**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_CLASSES": []},
    ):
        assert _deploy_check_ids() == []  # nothing counted, nothing to share


@pytest.mark.django_db
def test_bad_keys_are_throttled_per_address_and_then_no_key_is_checked(settings):
    settings.API_UNAUTHENTICATED_THROTTLE_RATE = "5/day"
    _partner, _key, good = partner_with_key()
    guesser = key_client("guess.nothing-here")

    statuses = [guesser.get(ME, REMOTE_ADDR="203.0.113.7").status_code for _ in range(8)]
    assert statuses == [401] * 5 + [429] * 3
    refused = guesser.get(ME, REMOTE_ADDR="203.0.113.7")
    assert refused.json()["code"] == "throttled"
    assert int(refused["Retry-After"]) >= 1

    # Even the right key is not looked at from that address now (no oracle for guesses)...
    assert key_client(good).get(ME, REMOTE_ADDR="203.0.113.7").status_code == 429
    # ...while other addresses are not affected.
    assert key_client(good).get(ME, REMOTE_ADDR="198.51.100.2").status_code == 200
    assert guesser.get(ME, REMOTE_ADDR="198.51.100.2").status_code == 401


@pytest.mark.django_db
def test_requests_without_a_key_are_throttled_per_address_behind_the_proxy(client, settings):
    settings.API_UNAUTHENTICATED_THROTTLE_RATE = "3/day"
    settings.TRUSTED_PROXY_COUNT = 1

    # Behind nginx every request comes from 127.0.0.1: the client is in X-Forwarded-For.
    def ask(address):
        return client.get(
            ME, REMOTE_ADDR="127.0.0.1", HTTP_X_FORWARDED_FOR=f"10.9.9.9, {address}"
        ).status_code

    assert [ask("203.0.113.9") for _ in range(4)] == [401, 401, 401, 429]
    assert ask("203.0.113.10") == 401
