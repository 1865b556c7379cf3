"""Logging: one JSON object per line, in five files that operators read and rotate.

- app.log     everything at LOG_LEVEL and above from the application and Django
- error.log   errors with their tracebacks
- access.log  one line per request: method, path, status, duration, user, request id
- db.log      queries slower than SLOW_QUERY_MS
- auth.log    logins, failures, lockouts, logouts, password changes

A request id (carshop.middleware.RequestIdMiddleware) is added to every line, so one request can
be followed across files (lines Django logs about a request after the middleware returned, such
as "Not Found", take the id from the request they name). Files are opened with WatchedFileHandler,
which reopens them after logrotate moves them (deploy/logrotate/carapp); a file it creates is
mode 0640 (LOG_FILE_MODE), as logrotate's `create 0640 carapp carapp` makes them, whatever the
umask of the process that writes first.

This module must not import Django settings: settings import it.
"""

import contextvars
import logging
import logging.handlers
import os

request_id_var = contextvars.ContextVar("request_id", default="-")

JSON_FORMAT = "%(levelname)s %(name)s %(message)s"

# Owner reads and writes, the group (nginx's www-data is not in it for logs) reads: the mode of
# deploy/logrotate/carapp's `create`.
LOG_FILE_MODE = 0o640


class RequestIdFilter(logging.Filter):
    """Stamp every record with the id of the request being served ("-" outside requests). Django
    logs 4xx and 5xx responses ("Not Found: /x") after the middleware returned, with the request
    in the record: its id is taken from there."""

    def filter(self, record):
        if not hasattr(record, "request_id"):
            request_id = request_id_var.get()
            if request_id == "-":
                request_id = getattr(getattr(record, "request", None), "request_id", "-")
            record.request_id = request_id
        return True


class LogFileHandler(logging.handlers.WatchedFileHandler):
    """WatchedFileHandler that creates its file with LOG_FILE_MODE."""

    def _open(self):
        descriptor = os.open(
            self.baseFilename, os.O_WRONLY | os.O_APPEND | os.O_CREAT, LOG_FILE_MODE
        )
        return open(descriptor, "a", encoding=self.encoding, errors=self.errors)


def build_logging_config(log_dir, level="INFO", console=False):
    log_dir.mkdir(parents=True, exist_ok=True)

    def file_handler(name, handler_level="DEBUG"):
        return {
            "class": "carshop.logconfig.LogFileHandler",
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
                "class": "logging.StreamHandler",
                "formatter": "console",
                "level": "WARNING",
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
