"""System checks of the partner API's configuration (`manage.py check --deploy`)."""

from django.conf import settings
from django.core import checks


@checks.register(checks.Tags.security, deploy=True)
def webhook_urls_are_safe(app_configs, **kwargs):
    if getattr(settings, "WEBHOOK_ALLOW_INSECURE_URLS", False):
        return [
            checks.Error(
                "WEBHOOK_ALLOW_INSECURE_URLS is on: partners could make the webhook worker call "
                "plain-http or internal addresses.",
                hint="Unset WEBHOOK_ALLOW_INSECURE_URLS (it is for development and tests).",
                id="accounts.E001",
            )
        ]
    return []


# Cache backends every worker and host share, with an atomic increment the rate limits count on.
SHARED_CACHE_BACKENDS = (
    "django.core.cache.backends.redis.RedisCache",
    "django_redis.cache.RedisCache",
)


@checks.register(checks.Tags.caches, checks.Tags.security, deploy=True)
def rate_limits_are_shared_by_every_worker(app_configs, **kwargs):
    throttles = settings.REST_FRAMEWORK.get("DEFAULT_THROTTLE_CLASSES") or ()
    backend = settings.CACHES.get("default", {}).get("BACKEND", "")
    if not throttles or backend in SHARED_CACHE_BACKENDS:
        return []
    return [
        checks.Error(
            f"The API's rate limits are counted in the default cache, {backend}, which is not "
            "shared: each worker process (or host) counts on its own, so a key limited to 5 "
            "requests a minute makes 5 per worker.",
            hint="Set CACHE_URL to a Redis that every worker and host uses, e.g. "
            "redis://127.0.0.1:6379/1?key_prefix=carshop (docs/deploy.md, Rate limits).",
            id="accounts.E002",
        )
    ]
