"""`manage.py check --deploy` refuses a configuration of several workers or hosts that would not
share what they must: sessions, the read-your-writes marker (the cache: Redis), uploads (S3 or a
shared file system). The documented production example, with a replica and several hosts on a
bucket, passes."""

from django.core import checks
from django.test import override_settings

from tests.helpers.commands import run_manage
from tests.helpers.deploy import production_environment

REPLICA = "postgres://carapp@10.0.0.6:5432/carshop"


def _deploy(tmp_path, **changes):
    environment = {**production_environment(tmp_path), **changes}
    return run_manage(environment, "check", "--deploy")


def test_several_hosts_with_a_replica_and_a_bucket_pass_the_deploy_checks(tmp_path):
    result = _deploy(
        tmp_path,
        APP_HOSTS="3",
        DATABASE_REPLICA_URL=REPLICA,
        MEDIA_STORAGE="S3",
        MEDIA_S3_BUCKET="carshop-media",
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "System check identified no issues (0 silenced)."


def test_several_hosts_with_uploads_on_each_hosts_disk_fail_the_deploy_checks(tmp_path):
    result = _deploy(tmp_path, APP_HOSTS="2")

    assert result.returncode == 1
    assert "carshop.E012" in result.stderr
    assert "MEDIA_STORAGE=S3" in result.stderr and "MEDIA_SHARED_FILESYSTEM" in result.stderr

    shared = _deploy(tmp_path, APP_HOSTS="2", MEDIA_SHARED_FILESYSTEM="true")
    assert shared.returncode == 0, shared.stderr


def test_a_replica_with_a_cache_of_one_process_fails_the_deploy_checks(tmp_path):
    result = _deploy(tmp_path, DATABASE_REPLICA_URL=REPLICA, CACHE_URL="locmemcache://carshop")

    assert result.returncode == 1
    assert "carshop.E011" in result.stderr
    assert "accounts.E002" in result.stderr  # the rate limits' own check says it too


def test_a_replica_url_that_is_not_postgresql_stops_with_one_line(tmp_path):
    result = _deploy(tmp_path, DATABASE_REPLICA_URL="sqlite:////tmp/replica.sqlite3")

    assert result.returncode == 2
    assert result.stderr == (
        "carshop: configuration error: DATABASE_REPLICA_URL: a replica of a PostgreSQL "
        "DATABASE_URL (postgres://...)\n"
    )


def _session_errors():
    return [
        message
        for message in checks.run_checks(include_deployment_checks=True)
        if message.id == "carshop.E010"
    ]


def test_sessions_kept_by_one_process_fail_the_deploy_checks():
    one_process = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    redis = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": "redis://127.0.0.1:6379/15",
        }
    }
    with override_settings(
        SESSION_ENGINE="django.contrib.sessions.backends.cache", CACHES=one_process
    ):
        (error,) = _session_errors()
        assert "CACHE_URL" in error.hint
    with override_settings(SESSION_ENGINE="django.contrib.sessions.backends.file"):
        assert len(_session_errors()) == 1
    with override_settings(SESSION_ENGINE="django.contrib.sessions.backends.cache", CACHES=redis):
        assert _session_errors() == []
    with override_settings(SESSION_ENGINE="django.contrib.sessions.backends.db"):
        assert _session_errors() == []


def test_sessions_are_read_through_redis_when_the_cache_is_redis(tmp_path):
    script = "from django.conf import settings; print(settings.SESSION_ENGINE)"
    environment = production_environment(tmp_path)

    with_redis = run_manage(environment, "shell", "-c", script)
    without = run_manage(
        {**environment, "CACHE_URL": "locmemcache://carshop"}, "shell", "-c", script
    )

    assert with_redis.stdout.splitlines()[-1] == "django.contrib.sessions.backends.cached_db"
    assert without.stdout.splitlines()[-1] == "django.contrib.sessions.backends.db"
