"""analyze_cache and optimize_cache against the real Redis (a test database and key prefix of
their own) and against locmem."""

import os
import uuid

import pytest
import redis
from django.core.cache import cache
from django.core.management.base import CommandError
from django.test import override_settings

from tests.helpers.commands import run_json as run

REDIS_URL = "redis://127.0.0.1:6379/15"


def finding(report, check):
    return next(item for item in report["findings"] if item["check"] == check)


@pytest.fixture
def raw_redis():
    client = redis.Redis.from_url(REDIS_URL)
    try:
        client.ping()
    except redis.ConnectionError:
        # On a developer's machine without Redis the test is skipped; under CI it fails.
        if os.environ.get("CI", "").lower() in {"1", "true", "yes"}:
            pytest.fail("needs Redis at 127.0.0.1:6379")
        pytest.skip("needs Redis at 127.0.0.1:6379")
    yield client
    client.close()


@pytest.fixture
def redis_cache(raw_redis):
    """The default cache on Redis db 15 under a prefix of this test's own; only its keys (and
    those the test plants) are removed afterwards, never the whole database."""
    prefix = f"carshop-test-{uuid.uuid4().hex[:12]}"
    planted = []
    config = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": prefix,
            "VERSION": 3,
        }
    }
    with override_settings(CACHES=config):
        yield prefix, planted
    for name in raw_redis.scan_iter(match=f"{prefix}:*"):
        raw_redis.delete(name)
    for name in planted:
        raw_redis.delete(name)


def test_analyze_cache_reads_redis_hits_misses_and_the_apps_keys(redis_cache):
    prefix, _planted = redis_cache
    cache.set("throttle:api_key:7", [1.0], 60)
    before = run("analyze_cache")

    assert cache.get("throttle:api_key:7") == [1.0]  # a hit
    assert cache.get(f"absent-{uuid.uuid4().hex}") is None  # a miss
    after = run("analyze_cache")

    assert before["status"] in ("OK", "WARN")
    data = after["data"]
    assert data["kind"] == "redis" and data["key_prefix"] == prefix and data["version"] == 3
    # The server counts every client's lookups: at least ours.
    assert data["hits"] >= before["data"]["hits"] + 1
    assert data["misses"] >= before["data"]["misses"] + 1
    assert 0 <= data["hit_rate_percent"] <= 100
    assert data["app_keys"] == 1
    assert data["app_keys_by_family"] == {"throttle": 1}
    assert data["keyspace"]["db15"]["keys"] >= 1
    assert data["used_memory"] > 0
    assert "hits" in finding(after, "hit rate")["detail"]


def test_analyze_cache_fails_in_one_line_when_redis_does_not_answer():
    config = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": "redis://127.0.0.1:1/0",
        }
    }
    with override_settings(CACHES=config), pytest.raises(CommandError) as error:
        run("analyze_cache")
    assert str(error.value).startswith("cache: FAIL redis: does not answer")


def test_optimize_cache_deletes_only_the_apps_stale_keys(redis_cache, raw_redis):
    prefix, planted = redis_cache
    cache.set("throttle:api_key:1", [1.0], 60)  # current, expiring: kept
    raw_redis.set(f"{prefix}:2:throttle:api_key:1", "old version")  # stale: another version
    raw_redis.set(f"{prefix}:3:throttle:api_user:5", "no timeout")  # stale: never expires
    raw_redis.set(f"{prefix}:3:something:else", "unknown to the app")  # kept, reported
    foreign = f"other-site-{uuid.uuid4().hex}:2:throttle:api_key:1"
    planted.append(foreign)
    raw_redis.set(foreign, "not ours")  # another site on the same database: kept

    dry = run("optimize_cache", "--clear-stale", "--dry-run")
    assert dry["clear_stale"]["stale"] == 2 and dry["clear_stale"]["deleted"] == 0
    assert raw_redis.exists(f"{prefix}:2:throttle:api_key:1")

    done = run("optimize_cache", "--clear-stale")

    assert done["clear_stale"]["deleted"] == 2
    assert done["clear_stale"]["reasons"] == {"throttle without a timeout": 1, "version 2": 1}
    assert not raw_redis.exists(f"{prefix}:2:throttle:api_key:1")
    assert not raw_redis.exists(f"{prefix}:3:throttle:api_user:5")
    assert raw_redis.exists(foreign)
    assert raw_redis.exists(f"{prefix}:3:something:else")
    assert cache.get("throttle:api_key:1") == [1.0]
    assert run("optimize_cache", "--clear-stale")["clear_stale"]["stale"] == 0


def test_optimize_cache_without_a_prefix_leaves_other_sites_versions_alone(raw_redis):
    marker = uuid.uuid4().hex
    theirs = f":7:session-of-another-site-{marker}"  # another Django site, no prefix either
    ours = f":7:throttle:api_key:{marker}"  # one of the app's kinds, under an old version
    raw_redis.set(theirs, "x")
    raw_redis.set(ours, "x")
    config = {
        "default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL}
    }
    try:
        with override_settings(CACHES=config):
            run("optimize_cache", "--clear-stale")
        assert raw_redis.exists(theirs)
        assert not raw_redis.exists(ours)
    finally:
        raw_redis.delete(theirs, ours)


def test_warm_says_why_nothing_is_warmed(redis_cache):
    result = run("optimize_cache", "--warm")
    assert result["clear_stale"] is None
    assert {item["family"]: item["action"] for item in result["warm"]} == {
        "throttle": "not warmed",
        "health_probe": "not warmed",
        "config_probe": "not warmed",
    }


def test_analyze_cache_on_locmem_reports_what_this_process_can_know():
    config = {
        "default": {
            "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
            "LOCATION": f"analyze-{uuid.uuid4().hex}",
        }
    }
    with override_settings(CACHES=config):
        empty = run("analyze_cache")
        cache.set("throttle:api_key:1", [1.0], 60)
        cache.set("djangohealthcheck_test:x", "ok", 5)
        filled = run("analyze_cache")
        optimized = run("optimize_cache")

    assert empty["data"]["entries_in_this_process"] == 0
    assert filled["data"]["entries_in_this_process"] == 2
    assert filled["data"]["hit_rate_percent"] is None
    assert "not counted" in finding(filled, "hit rate")["detail"]
    assert "own" in finding(filled, "locmem")["detail"]
    assert optimized["clear_stale"] is None and "locmem" in optimized["notes"][0]


def test_a_key_prefix_in_the_cache_url_reaches_django(monkeypatch):
    from carshop.settings.env import env_cache

    monkeypatch.setenv("TEST_CACHE_URL", "redis://127.0.0.1:6379/1?key_prefix=carshop&version=2")
    config = env_cache("TEST_CACHE_URL")
    assert config["KEY_PREFIX"] == "carshop" and config["VERSION"] == 2


def test_an_unknown_cache_alias_is_refused():
    with pytest.raises(CommandError, match="no cache 'nope' in CACHES"):
        run("analyze_cache", "--cache", "nope")
