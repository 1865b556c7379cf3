"""Crediting changes to people outside a web request.

Requests are credited by auditlog's middleware (and by the API's authentication). A management
command runs inside `operator_context`: every audit entry it writes without an actor is credited to
the operator — the user named by CARSHOP_OPERATOR, else the user whose username is the OS login
running the command, else the inactive `system` account (the OS login is still in app.log).
"""

import contextlib
import contextvars
import getpass
import logging
import os

from django.db.models.signals import pre_save

logger = logging.getLogger("carshop.commands")

_operator = contextvars.ContextVar("carshop_operator", default=None)

SYSTEM_USERNAME = "system"


def operator_login():
    explicit = os.environ.get("CARSHOP_OPERATOR", "").strip()
    if explicit:
        return explicit
    try:
        return getpass.getuser()
    except Exception:  # no login name in some containers
        return SYSTEM_USERNAME


def resolve_operator(login):
    """The user a command's changes are credited to (created as an inactive account if needed)."""
    from django.contrib.auth import get_user_model

    user_model = get_user_model()
    user = user_model._default_manager.filter(username=login).first()
    if user is None:
        from auditlog.context import disable_auditlog

        with disable_auditlog():
            user, created = user_model._default_manager.get_or_create(
                username=SYSTEM_USERNAME,
                defaults={"is_active": False, "first_name": "System", "last_name": "(commands)"},
            )
            if created:
                user.set_unusable_password()
                user.save(update_fields=["password"])
    return user


def _credit_operator(sender, instance, **kwargs):
    state = _operator.get()
    if state is None or instance.actor_id is not None:
        return
    if state.get("user") is None:
        state["user"] = resolve_operator(state["login"])
    instance.actor = state["user"]
    instance.actor_email = getattr(state["user"], "email", None) or None


def connect():
    from auditlog.models import LogEntry

    pre_save.connect(_credit_operator, sender=LogEntry, dispatch_uid="carshop_credit_operator")


def note_failure(reason):
    """Record why the running command fails (its CommandError, an option argparse refused), for
    the line `operator_context` logs when the command exits: Django prints the message and exits
    with SystemExit, which no longer carries it."""
    state = _operator.get()
    if state is not None and not state.get("failure"):
        state["failure"] = reason


@contextlib.contextmanager
def operator_context(command, login=None):
    """Credit audit entries written inside to the operator; log the run to app.log: its start,
    and its end at INFO when it succeeded (or showed --help), at ERROR with the reason when it
    failed, so that a failed scheduled run reaches error.log and error_report."""
    if _operator.get() is not None:  # already inside a command (manage.py wraps each one)
        yield
        return
    login = login or operator_login()
    state = {"login": login, "user": None}
    token = _operator.set(state)
    context = {"command": command, "operator": login}
    logger.info("command started", extra=context)
    try:
        yield
    except SystemExit as exc:
        code = exc.code
        if code is None or code == 0:
            logger.info("command ended", extra={**context, "outcome": "ok", "exit_code": 0})
        else:
            exit_code = code if isinstance(code, int) else 1
            reason = state.get("failure") or (
                code if isinstance(code, str) else f"exited with status {exit_code}"
            )
            logger.error(
                f"command {command} failed: {reason}",
                extra={**context, "outcome": "failed", "exit_code": exit_code, "reason": reason},
            )
        raise
    except KeyboardInterrupt:
        logger.warning(
            f"command {command} interrupted",
            extra={**context, "outcome": "interrupted", "exit_code": 130},
        )
        raise
    except BaseException as exc:
        reason = state.get("failure") or f"{type(exc).__name__}: {exc}"
        logger.error(
            f"command {command} failed: {reason}",
            exc_info=True,
            extra={**context, "outcome": "failed", "exit_code": 1, "reason": reason},
        )
        raise
    else:
        logger.info("command ended", extra={**context, "outcome": "ok", "exit_code": 0})
    finally:
        _operator.reset(token)


def mask_secret(value):
    """How the audit log shows a masked field (AUDITLOG_MASK_CALLABLE): entirely hidden, its
    length too. (auditlog's default leaves the second half of a secret readable.)"""
    return "********" if value else ""
