"""Production and staging: no insecure default survives here.

Loaded on top of base.py when DJANGO_ENV is production or staging. Each refusal is one line that
names the variable, so `manage.py` stops before serving anything.
"""

from django.core.exceptions import ImproperlyConfigured

from .base import *  # noqa: F403
from .base import DEBUG, REST_FRAMEWORK, add_read_replica
from .env import env_bool, env_db, env_int, env_list, env_str

SECRET_KEY = env_str("SECRET_KEY")  # no default on purpose
if len(SECRET_KEY) < 50 or len(set(SECRET_KEY)) < 5 or SECRET_KEY.startswith("django-insecure"):
    raise ImproperlyConfigured(
        "SECRET_KEY is too weak: use 50 or more random characters "
        "(python -c 'import secrets; print(secrets.token_urlsafe(50))')"
    )
if DEBUG:
    raise ImproperlyConfigured("DEBUG must be false in production and staging")

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS")
if not ALLOWED_HOSTS or "*" in ALLOWED_HOSTS:
    raise ImproperlyConfigured("ALLOWED_HOSTS must name the site's host names (no '*')")

DATABASES = {"default": env_db("DATABASE_URL")}
DATABASES["default"]["CONN_MAX_AGE"] = env_int("DB_CONN_MAX_AGE", 60, minimum=0)
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
add_read_replica(DATABASES)

# HTTPS everywhere: https://docs.djangoproject.com/en/5.2/howto/deployment/checklist/
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", True)
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 31536000, minimum=0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", True)
SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", True)
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SESSION_COOKIE_SECURE = True
CSRF_COOKIE_SECURE = True
X_FRAME_OPTIONS = "DENY"
# Health probes from the load balancer come over plain HTTP on the private network.
SECURE_REDIRECT_EXEMPT = [r"^health/"]

# Private files leave through nginx's internal location once Django has checked permissions.
PRIVATE_MEDIA_X_ACCEL_REDIRECT = env_str("PRIVATE_MEDIA_X_ACCEL_REDIRECT", "/protected-media/")

if not env_str("EMAIL_URL", ""):
    EMAIL_BACKEND = env_str("EMAIL_BACKEND", "django.core.mail.backends.smtp.EmailBackend")

# The partner API answers JSON only: no browsable API (HTML forms, the session's user) to explore.
REST_FRAMEWORK = {
    **REST_FRAMEWORK,
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
}
