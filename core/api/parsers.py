"""The API's JSON parser: DRF's JSONParser, with limits on what a body may be.

A request body is at most MAX_BODY_BYTES (413 beyond: no partner write comes near it) and nests
at most MAX_DEPTH arrays or objects (400 beyond). Python's decoder recurses once per level, so
2 KB of `[` would otherwise end in a RecursionError and a server error. Anything that is not
JSON in the declared charset is a 400 in the API's error format (parse_error).
"""

from rest_framework import exceptions

# get_encoding is DRF's own helper, missing from djangorestframework-stubs.
from rest_framework.parsers import JSONParser, get_encoding  # type: ignore[attr-defined]
from rest_framework.utils import json

MAX_BODY_BYTES = 64 * 1024
MAX_DEPTH = 16


class RequestTooLarge(exceptions.APIException):
    status_code = 413
    default_code = "request_too_large"
    default_detail = f"The request body is larger than {MAX_BODY_BYTES // 1024} KB."


def _too_deep(data, limit):
    """Whether `data` nests more than `limit` lists or dicts (walked without recursion)."""
    stack = [(data, 1)]
    while stack:
        value, depth = stack.pop()
        if isinstance(value, dict):
            children = value.values()
        elif isinstance(value, list):
            children = value
        else:
            continue
        if depth > limit:
            return True
        stack.extend((child, depth + 1) for child in children)
    return False


class CarshopJSONParser(JSONParser):
    max_body_bytes = MAX_BODY_BYTES
    max_depth = MAX_DEPTH

    def parse(self, stream, media_type=None, parser_context=None):
        parser_context = parser_context or {}
        request = parser_context.get("request")
        if request is not None:
            try:
                declared = int(request.META.get("CONTENT_LENGTH") or 0)
            except (TypeError, ValueError):
                declared = 0
            if declared > self.max_body_bytes:
                raise RequestTooLarge()
        body = stream.read(self.max_body_bytes + 1)
        if len(body) > self.max_body_bytes:
            raise RequestTooLarge()
        encoding = get_encoding(parser_context)  # a text charset, or a ParseError
        try:
            text = body.decode(encoding)
        except ValueError:
            raise exceptions.ParseError(
                f"The request body is not valid JSON: it is not {encoding} text."
            ) from None
        try:
            data = json.loads(text)  # NaN and Infinity refused, as DRF's STRICT_JSON
        except RecursionError:
            raise self._too_deep_error() from None
        except ValueError as exc:
            raise exceptions.ParseError(f"The request body is not valid JSON: {exc}.") from None
        if _too_deep(data, self.max_depth):
            raise self._too_deep_error()
        return data

    def _too_deep_error(self):
        return exceptions.ParseError(
            f"The request body is nested too deeply: at most {self.max_depth} levels of arrays "
            "and objects."
        )
