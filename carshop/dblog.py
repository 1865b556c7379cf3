"""db.log: every query slower than SLOW_QUERY_MS, from requests, commands and workers alike.

Each entry keeps the statement (first 4000 characters) and its parameters, so optimize_queries
can plan it with the values it really ran with (PostgreSQL 15 has no generic plans). Operators
read db.log, so parameters are made safe first:
- a parameter compared with, or written to, a column whose name says it holds a secret
  (password, secret, token, key, hash, salt, session data) is replaced by MASKED;
- strings are cut to PARAM_MAX_CHARS, lists to PARAM_MAX_ITEMS, bytes are never kept;
- when the parameters together would take more than PARAMS_MAX_CHARS, none are kept.
"""

import datetime
import decimal
import json
import logging
import re
import time
import uuid

from django.conf import settings

logger = logging.getLogger("carshop.db")

MASKED = "<masked>"
PARAM_MAX_CHARS = 200
PARAM_MAX_ITEMS = 50
PARAMS_MAX_CHARS = 8000
SQL_MAX_CHARS = 4000

# Column names that hold secrets: their values never reach the log.
SECRET_COLUMN = re.compile(
    r"pass|secret|token|key|hash|salt|session_data|otp|credential", re.IGNORECASE
)
_IDENT = re.compile(r'"((?:[^"]|"")+)"|\b([A-Za-z_][A-Za-z0-9_]*)\b')
_NOT_A_COLUMN = {
    "and",
    "or",
    "not",
    "in",
    "is",
    "null",
    "like",
    "ilike",
    "between",
    "upper",
    "lower",
    "values",
    "set",
    "where",
    "any",
    "all",
    "some",
    "cast",
    "as",
    "text",
    "varchar",
    "then",
    "when",
    "case",
    "else",
    "coalesce",
    "limit",
    "offset",
    "escape",
    "replace",
    "unaccent",
    "similar",
    "to",
    "similarity",
    "array",
    "exists",
    "select",
    "on",
    "date",
    "timestamp",
}
_INSERT_COLUMNS = re.compile(
    r"^\s*INSERT\s+INTO\s+\S+\s*\((?P<columns>[^)]*)\)\s*VALUES", re.IGNORECASE
)
_PLACEHOLDER = re.compile(r"%%|%s")  # %% is a literal per cent sign


def _placeholder_columns(sql):
    """For each %s of the statement, in order, the column it is compared with or written to
    (the nearest column named before it; the INSERT column at its position), or None."""
    insert = _INSERT_COLUMNS.match(sql)
    if insert:
        columns = [quoted or bare for quoted, bare in _IDENT.findall(insert.group("columns"))]
        count = _PLACEHOLDER.findall(sql).count("%s")
        return [columns[i % len(columns)] if columns else None for i in range(count)]
    result = []
    last = None
    position = 0
    for match in _PLACEHOLDER.finditer(sql):
        if match.group() == "%%":
            continue
        for ident in _IDENT.finditer(sql, position, match.start()):
            name = ident.group(1) or ident.group(2)
            if ident.group(1) or name.lower() not in _NOT_A_COLUMN:
                last = name
        position = match.end()
        result.append(last)
    return result


def _safe_value(value):
    if value is None or isinstance(value, (bool, int, float)):
        return value
    if isinstance(value, (bytes, bytearray, memoryview)):
        return MASKED
    if isinstance(value, (list, tuple)):
        return [_safe_value(item) for item in value[:PARAM_MAX_ITEMS]]
    if isinstance(value, (datetime.date, datetime.time)):
        return value.isoformat()
    if isinstance(value, (decimal.Decimal, uuid.UUID, datetime.timedelta)):
        return str(value)
    if isinstance(value, str):
        return value[:PARAM_MAX_CHARS]
    return MASKED  # JSON adapters and anything else: not worth the risk


def safe_params(sql, params):
    """The statement's parameters as they may be logged, or None when they are not kept
    (named parameters, several rows at once, too large, or a statement cut in the log)."""
    if not isinstance(params, (list, tuple)) or len(sql) > SQL_MAX_CHARS:
        return None
    columns = _placeholder_columns(sql)
    if len(columns) != len(params):
        return None
    logged = [
        MASKED if column and SECRET_COLUMN.search(column) else _safe_value(value)
        for column, value in zip(columns, params, strict=True)
    ]
    if len(json.dumps(logged, default=str)) > PARAMS_MAX_CHARS:
        return None
    return logged


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
                    "sql": sql[:SQL_MAX_CHARS],
                    "params": None if many else safe_params(sql, params),
                    "many": many,
                    "database": context["connection"].alias,
                },
            )


def install_slow_query_logger(sender, connection, **kwargs):
    """connection_created receiver: watch every query on each new connection."""
    if slow_query_logger not in connection.execute_wrappers:
        connection.execute_wrappers.append(slow_query_logger)
