"""auth.log: logins, failed logins, lockouts, logouts and password changes."""

import logging

logger = logging.getLogger("carshop.auth")


def _client_ip(request):
    if request is None:
        return None
    from carshop.clientip import client_ip

    return client_ip(request)


def logged_in(sender, request, user, **kwargs):
    logger.info(
        "login", extra={"event": "login", "user": user.get_username(), "ip": _client_ip(request)}
    )


def login_failed(sender, credentials, request=None, **kwargs):
    logger.warning(
        "login failed",
        extra={
            "event": "login_failed",
            "user": credentials.get("username"),
            "ip": _client_ip(request),
        },
    )


def logged_out(sender, request, user, **kwargs):
    logger.info(
        "logout",
        extra={
            "event": "logout",
            "user": user.get_username() if user else None,
            "ip": _client_ip(request),
        },
    )


def locked_out(sender, request, username, ip_address, **kwargs):
    logger.warning("lockout", extra={"event": "lockout", "user": username, "ip": ip_address})


def password_changed(sender, user, **kwargs):
    logger.info(
        "password changed", extra={"event": "password_changed", "user": user.get_username()}
    )
