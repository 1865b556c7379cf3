"""Logging: one JSON object per line, in five files that operators read and rotate.

- app.log     everything at LOG_LEVEL and above from the application and Django
- error.log   errors with their tracebacks
- access.log  one line per request: method, path, status, duration, user, request id
- db.log      queries slower than SLOW_QUERY_MS
- auth.log    logins, failures, lockouts, logouts, password changes

A request id (carshop.middleware.RequestIdMiddleware) is added to every line, so one request can
be followed across files. Files are opened with WatchedFileHandler, which reopens them after
logrotate moves them (deploy/logrotate/carapp).

This module must not import Django settings: settings import it.
"""

import contextvars
import logging

request_id_var = contextvars.ContextVar("request_id", default="-")

JSON_FORMAT = "%(levelname)s %(name)s %(message)s"


class RequestIdFilter(logging.Filter):
    """Stamp every record with the id of the request being served ("-" outside requests)."""

    def filter(self, record):
        if not hasattr(record, "request_id"):
            record.request_id = request_id_var.get()
        return True


def build_logging_config(log_dir, level="INFO", console=False):
    log_dir.mkdir(parents=True, exist_ok=True)

    def file_handler(name, handler_level="DEBUG"):
        return {
            "class": "logging.handlers.WatchedFileHandler",
            "filename": str(log_dir / name),
            "formatter": "json",
            "filters": ["request_id"],
            "level": handler_level,
            "encoding": "utf-8",
        }

    app_handlers = ["app", "error"] + (["console"] if console else [])
    config = {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {"request_id": {"()": "carshop.logconfig.RequestIdFilter"}},
        "formatters": {
            "json": {
                "()": "pythonjsonlogger.json.JsonFormatter",
                "fmt": JSON_FORMAT,
                "rename_fields": {"levelname": "level", "name": "logger"},
                # ISO 8601 in UTC, under "time".
                "timestamp": "time",
            },
            "console": {"format": "%(levelname)s %(name)s: %(message)s"},
        },
        "handlers": {
            "app": file_handler("app.log"),
            "error": file_handler("error.log", "ERROR"),
            "access": file_handler("access.log"),
            "db": file_handler("db.log"),
            "auth": file_handler("auth.log"),
            "console": {
                "class": "logging.StreamHandler", "formatter": "console", "level": "WARNING",
            },
        },
        "root": {"handlers": app_handlers, "level": level},
        "loggers": {
            "django": {"handlers": app_handlers, "level": level, "propagate": False},
            # The access log replaces runserver's own request lines.
            "django.server": {"handlers": ["error"], "level": "ERROR", "propagate": False},
            "carshop.access": {"handlers": ["access"], "level": "INFO", "propagate": False},
            "carshop.db": {"handlers": ["db", "error"], "level": "INFO", "propagate": False},
            "carshop.auth": {"handlers": ["auth"], "level": "INFO", "propagate": False},
            "axes": {"handlers": ["auth", "error"], "level": "WARNING", "propagate": False},
        },
    }
    return config
