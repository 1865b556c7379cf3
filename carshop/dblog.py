"""db.log: every query slower than SLOW_QUERY_MS, from requests, commands and workers alike."""

import logging
import time

from django.conf import settings

logger = logging.getLogger("carshop.db")


def slow_query_logger(execute, sql, params, many, context):
    started = time.perf_counter()
    try:
        return execute(sql, params, many, context)
    finally:
        elapsed_ms = (time.perf_counter() - started) * 1000
        if elapsed_ms >= settings.SLOW_QUERY_MS:
            logger.warning(
                "slow query",
                extra={
                    "duration_ms": round(elapsed_ms, 2),
                    "sql": sql[:4000],
                    "many": many,
                    "database": context["connection"].alias,
                },
            )


def install_slow_query_logger(sender, connection, **kwargs):
    """connection_created receiver: watch every query on each new connection."""
    if slow_query_logger not in connection.execute_wrappers:
        connection.execute_wrappers.append(slow_query_logger)
