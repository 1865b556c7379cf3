"""security_check: the settings judged as a server needs them, with the superusers and partner
keys (see the package).
"""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import DatabaseError
from django.db.models import F, Q
from django.utils import timezone

from carshop.audit import SYSTEM_USERNAME
from carshop.ops import on_server
from carshop.ops.config.validation import (
    hosts_and_origins,
    secret_key_and_debug,
    system_checks,
    weak_secret_key,
)
from carshop.ops.security.auth_config import check_auth_config
from carshop.ops.toolkit import Report, first_line

if TYPE_CHECKING:
    from datetime import datetime

    from accounts.models import PartnerKey

# --- security_check ---------------------------------------------------------------------------

# Django deployment checks that security_check's own findings judge more strictly (DEBUG,
# SECRET_KEY and ALLOWED_HOSTS fail here; Django only warns), so they are not reported twice.
COVERED_DJANGO_CHECKS = {
    "security.W004",  # SECURE_HSTS_SECONDS
    "security.W008",  # SECURE_SSL_REDIRECT
    "security.W009",  # SECRET_KEY
    "security.W012",  # SESSION_COOKIE_SECURE
    "security.W016",  # CSRF_COOKIE_SECURE
    "security.W018",  # DEBUG
    "security.W020",  # ALLOWED_HOSTS
}
# Below a year, browsers forget HSTS between two visits of a rare customer (Django's advice).
HSTS_MIN_SECONDS = 365 * 24 * 3600
# A superuser who has not logged in for this long should be disabled or lose the flag.
SUPERUSER_DORMANT_DAYS = 90
# A usable API key issued this long ago and never used, or unused for this long.
KEY_NEVER_USED_DAYS = 30
KEY_DORMANT_DAYS = 90
# Authentication findings that describe rather than judge; the security report leaves them out.
AUTH_DESCRIPTIVE = {
    "SESSION_ENGINE",
    "SESSION_EXPIRE_AT_BROWSER_CLOSE",
    "sessions",
    "AXES_RESET_ON_SUCCESS",
}


def check_security(now: datetime | None = None) -> Report:
    """The settings in effect, judged as a server needs them whatever DJANGO_ENV says, and the
    accounts and keys that open the shop to the outside."""
    now = now or timezone.now()
    report = Report("security")
    server = on_server()
    report.ok(
        "DJANGO_ENV",
        settings.DJANGO_ENV if server else f"{settings.DJANGO_ENV} (judged as a server would be)",
    )
    secret_key_and_debug(report, server=True)
    _secret_key_fallbacks(report)
    _allowed_hosts(report)
    hosts_and_origins(report, server=True)
    _https(report)
    _proxies(report)
    for finding in check_auth_config(now, server=True).findings:
        if finding.check not in AUTH_DESCRIPTIVE and finding.check != "TRUSTED_PROXY_COUNT":
            report.findings.append(finding)
    system_checks(report, deploy=True, skip=COVERED_DJANGO_CHECKS)
    try:
        _superusers(report, now)
        _partner_keys(report, now)
    except DatabaseError as exc:
        report.fail("database", f"cannot read users and API keys: {first_line(exc)}")
    return report


def _secret_key_fallbacks(report: Report) -> None:
    fallbacks = list(getattr(settings, "SECRET_KEY_FALLBACKS", []))
    weak = [index for index, key in enumerate(fallbacks, start=1) if weak_secret_key(key)]
    if weak:
        report.fail(
            "SECRET_KEY_FALLBACKS",
            f"key {', '.join(map(str, weak))} of {len(fallbacks)} is weak or published: "
            "what it signed is still accepted",
        )
    elif fallbacks:
        report.ok("SECRET_KEY_FALLBACKS", f"{len(fallbacks)} old keys, none weak")


def _allowed_hosts(report: Report) -> None:
    allowed = list(settings.ALLOWED_HOSTS)
    if not allowed:
        report.fail("ALLOWED_HOSTS", "empty: the site answers to no host name")
    elif "*" not in allowed:  # with '*', hosts_and_origins fails it
        report.ok("ALLOWED_HOSTS", ", ".join(allowed))


def _https(report: Report) -> None:
    if settings.SECURE_SSL_REDIRECT:
        report.ok("SECURE_SSL_REDIRECT", "True")
    else:
        report.warn(
            "SECURE_SSL_REDIRECT",
            "False: plain HTTP is served unless nginx redirects it (it does in deploy/)",
        )
    seconds = settings.SECURE_HSTS_SECONDS
    if not seconds:
        report.warn(
            "SECURE_HSTS_SECONDS", "0: browsers may be sent to plain HTTP by anyone on the network"
        )
    elif seconds < HSTS_MIN_SECONDS:
        report.warn("SECURE_HSTS_SECONDS", f"{seconds}: less than a year")
    else:
        extras = [
            name
            for name in ("SECURE_HSTS_INCLUDE_SUBDOMAINS", "SECURE_HSTS_PRELOAD")
            if getattr(settings, name)
        ]
        report.ok(
            "SECURE_HSTS_SECONDS",
            f"{seconds // 86400} days" + (f" ({', '.join(extras)})" if extras else ""),
        )


def _proxies(report: Report) -> None:
    """TRUSTED_PROXY_COUNT (client addresses for the lockout) and SECURE_PROXY_SSL_HEADER (HTTPS
    as nginx saw it) describe the same proxy: both set, or neither."""
    proxies = settings.TRUSTED_PROXY_COUNT
    ssl_header = settings.SECURE_PROXY_SSL_HEADER
    if proxies and not ssl_header:
        report.warn(
            "TRUSTED_PROXY_COUNT",
            f"{proxies} proxies, but SECURE_PROXY_SSL_HEADER is unset: Django takes every "
            "request for plain HTTP and SECURE_SSL_REDIRECT loops",
        )
    elif ssl_header and not proxies:
        report.warn(
            "TRUSTED_PROXY_COUNT",
            "0, but SECURE_PROXY_SSL_HEADER trusts a proxy: behind nginx set 1, or every "
            "failed login counts against nginx's address and locks everyone out",
        )
    elif proxies > 2:
        report.warn(
            "TRUSTED_PROXY_COUNT",
            f"{proxies}: more proxies than a load balancer and nginx; a client could "
            "choose its own address",
        )
    else:
        report.ok(
            "TRUSTED_PROXY_COUNT",
            f"{proxies}" + (" (SECURE_PROXY_SSL_HEADER set)" if ssl_header else ""),
        )


def _superusers(report: Report, now: datetime) -> None:
    cutoff = now - timedelta(days=SUPERUSER_DORMANT_DAYS)
    superusers = (
        get_user_model()
        ._default_manager.filter(is_superuser=True, is_active=True)
        .exclude(username=SYSTEM_USERNAME)
        .order_by("username")
    )
    dormant = [
        user.username
        for user in superusers.filter(
            Q(last_login__lt=cutoff) | Q(last_login__isnull=True, date_joined__lt=cutoff)
        )
    ]
    count = superusers.count()
    report.data["superusers"] = {"active": count, "dormant": dormant}
    if dormant:
        names = ", ".join(dormant[:10]) + (
            f" and {len(dormant) - 10} more" if len(dormant) > 10 else ""
        )
        report.warn(
            "superusers",
            f"{len(dormant)} of {count} not logged in for {SUPERUSER_DORMANT_DAYS} days: "
            f"{names} (python manage.py disable_users, or remove the superuser flag)",
        )
    else:
        report.ok(
            "superusers",
            f"{count} active, each logged in within {SUPERUSER_DORMANT_DAYS} days"
            if count
            else "none active",
        )


def _key_label(key: PartnerKey) -> str:
    return f"{key.partner.slug}/{key.prefix}"


def _partner_keys(report: Report, now: datetime) -> None:
    from accounts.models import PartnerKey

    keys = PartnerKey.objects.select_related("partner")
    # Used after it expired or was revoked: the API let a dead key in.
    used_dead = list(
        keys.filter(
            Q(expires_at__isnull=False, last_used_at__gt=F("expires_at"))
            | Q(revoked_at__isnull=False, last_used_at__gt=F("revoked_at"))
        ).order_by("prefix")
    )
    usable = keys.usable(now)
    never_used = list(
        usable.filter(
            last_used_at__isnull=True, created_at__lt=now - timedelta(days=KEY_NEVER_USED_DAYS)
        ).order_by("partner__slug", "prefix")
    )
    dormant = list(
        usable.filter(last_used_at__lt=now - timedelta(days=KEY_DORMANT_DAYS)).order_by(
            "partner__slug", "prefix"
        )
    )
    expired = keys.filter(revoked_at__isnull=True, expires_at__lte=now).count()
    inactive_partner = keys.filter(revoked_at__isnull=True, partner__is_active=False).count()
    report.data["api_keys"] = {
        "usable": usable.count(),
        "used_after_end": [_key_label(key) for key in used_dead],
        "never_used": [_key_label(key) for key in never_used],
        "dormant": [_key_label(key) for key in dormant],
        "expired_not_revoked": expired,
        "of_inactive_partners": inactive_partner,
    }
    if used_dead:
        report.fail(
            "API keys used after their end",
            f"{', '.join(map(_key_label, used_dead))}: the API accepted a key after it "
            "expired or was revoked",
        )
    if never_used:
        partners = sorted({key.partner.slug for key in never_used})
        report.warn(
            "API keys never used",
            f"{len(never_used)} issued over {KEY_NEVER_USED_DAYS} days ago "
            f"({', '.join(map(_key_label, never_used[:10]))}), partners "
            f"{', '.join(partners)}: revoke the keys nobody needs",
        )
    if dormant:
        report.warn(
            "API keys unused",
            f"{len(dormant)} not used for {KEY_DORMANT_DAYS} days "
            f"({', '.join(map(_key_label, dormant[:10]))}): revoke them if the "
            "integration ended",
        )
    ended = [f"{expired} expired"] if expired else []
    if inactive_partner:
        ended.append(f"{inactive_partner} of inactive partners")
    note = f"; not revoked but refused: {', '.join(ended)}" if ended else ""
    report.ok("API keys", f"{report.data['api_keys']['usable']} usable{note}")
