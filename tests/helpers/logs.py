"""JSON log lines as carshop/logconfig.py writes them, and log files made of them, for the tests
that read logs (analyze_logs, error_report, analyze_queries, user_activity...)."""

import gzip
import json
import os
from datetime import timedelta

from django.utils import timezone


def ago(**delta):
    return timezone.now() - timedelta(**delta)


def line(when, **fields):
    return json.dumps({"level": fields.pop("level", "INFO"), "time": when.isoformat(), **fields})


def write_log(path, lines, *, compressed=False, modified=None):
    """Write JSON lines (strings) to a log file; `modified` sets its mtime (a datetime)."""
    text = "".join(f"{entry}\n" for entry in lines)
    if compressed:
        with gzip.open(path, "wt", encoding="utf-8") as handle:
            handle.write(text)
    else:
        path.write_text(text, encoding="utf-8")
    if modified is not None:
        os.utime(path, (modified.timestamp(), modified.timestamp()))
    return path


def request(when, path, duration_ms, status=200, method="GET", user="advisor", request_id="-"):
    return line(
        when,
        logger="carshop.access",
        message="request",
        method=method,
        path=path,
        status=status,
        duration_ms=duration_ms,
        user=user,
        request_id=request_id,
    )


def traceback_text(exception, file, lineno, function="handler", message="boom"):
    return (
        "Traceback (most recent call last):\n"
        '  File "/srv/venv/lib/python3.11/site-packages/django/core/handlers/base.py", '
        "line 197, in _get_response\n"
        "    response = wrapped_callback(request, *callback_args, **callback_kwargs)\n"
        f'  File "{file}", line {lineno}, in {function}\n'
        "    raise_it()\n"
        f"{exception}: {message}"
    )


def slow_query(when, sql, duration_ms):
    return line(
        when,
        logger="carshop.db",
        message="slow query",
        level="WARNING",
        sql=sql,
        duration_ms=duration_ms,
        many=False,
        database="default",
    )
