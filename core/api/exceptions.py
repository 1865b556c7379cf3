"""One error format for the whole API:

    {"code": "invalid", "message": "Check the fields named.", "fields": {"url": ["..."]}}

`code` is stable and machine-readable (invalid, not_authenticated, authentication_failed,
permission_denied, not_found, method_not_allowed, throttled, ...); `message` is for people;
`fields` maps each bad input (dotted for nested ones, `non_field_errors` for the whole body) to
its messages, and is empty for errors that are not about input.
"""

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import RequestDataTooBig, TooManyFieldsSent, TooManyFilesSent
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404
from rest_framework import exceptions, serializers
from rest_framework.throttling import BaseThrottle
from rest_framework.views import exception_handler

from core.api.parsers import RequestTooLarge
from core.errors import DomainError

# Throttles counting refused authentications (no key, a bad key), each instantiated per refusal;
# past its rate the answer is 429. accounts registers its per-address throttle (AccountsConfig).
AUTHENTICATION_FAILURE_THROTTLES: list[type[BaseThrottle]] = []


def throttle_authentication_failures(throttle_class):
    """Count every refused authentication with `throttle_class` (a DRF throttle)."""
    if throttle_class not in AUTHENTICATION_FAILURE_THROTTLES:
        AUTHENTICATION_FAILURE_THROTTLES.append(throttle_class)
    return throttle_class


MESSAGES = {
    "invalid": "Check the fields named.",
}


def _flatten(detail, prefix=""):
    """{"a": {"b": ["x"]}} -> {"a.b": ["x"]}; lists of messages stay lists."""
    fields = {}
    if isinstance(detail, dict):
        for name, value in detail.items():
            fields.update(_flatten(value, f"{prefix}.{name}" if prefix else str(name)))
    elif isinstance(detail, list) and detail and all(isinstance(d, (dict, list)) for d in detail):
        for index, value in enumerate(detail):
            fields.update(_flatten(value, f"{prefix}.{index}" if prefix else str(index)))
    elif isinstance(detail, list):
        fields[prefix or "non_field_errors"] = [str(message) for message in detail]
    else:
        fields[prefix or "non_field_errors"] = [str(detail)]
    return {name: messages for name, messages in fields.items() if messages}


def api_exception_handler(exc, context):
    """DRF's exception handler: every error in the one format. A business refusal (any
    DomainError, from any app) is a 400 with its message under its field (or non_field_errors),
    so views need no try/except around the services they call."""
    if isinstance(exc, DomainError):
        exc = exceptions.ValidationError({exc.field or "non_field_errors": [str(exc)]})
    elif isinstance(exc, DjangoValidationError):
        exc = exceptions.ValidationError(
            exc.message_dict if hasattr(exc, "error_dict") else {"non_field_errors": exc.messages}
        )
    elif isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied()
    elif isinstance(exc, RequestDataTooBig):  # Django's own limit, reading a form body
        exc = RequestTooLarge()
    elif isinstance(exc, (TooManyFieldsSent, TooManyFilesSent)):
        exc = exceptions.ParseError("The request body has too many fields.")
    elif isinstance(exc, (exceptions.NotAuthenticated, exceptions.AuthenticationFailed)):
        # A bad or missing key counts against the client's address: past the rate, 429.
        for throttle_class in AUTHENTICATION_FAILURE_THROTTLES:
            guesses = throttle_class()
            if not guesses.allow_request(context["request"], context.get("view")):
                exc = exceptions.Throttled(guesses.wait())
                break

    response = exception_handler(exc, context)
    if response is None:
        return None  # a server error: Django logs it and answers 500

    if isinstance(exc, exceptions.ValidationError):
        fields = _flatten(exc.detail)
        non_field = fields.get("non_field_errors")
        message = non_field[0] if non_field and len(fields) == 1 else MESSAGES["invalid"]
        response.data = {"code": "invalid", "message": message, "fields": fields}
    else:
        detail = exc.detail if isinstance(exc, exceptions.APIException) else str(exc)
        code = getattr(detail, "code", None) or getattr(exc, "default_code", "error")
        if isinstance(exc, exceptions.Throttled):
            code = "throttled"
        response.data = {
            "code": str(code),
            "message": MESSAGES.get(str(code), str(detail)),
            "fields": {},
        }
    return response


class ErrorSerializer(serializers.Serializer):
    """The body of every error response."""

    code = serializers.CharField(help_text="Stable, machine-readable error code.")
    message = serializers.CharField(help_text="What went wrong, for people.")
    # A field named like Serializer.fields: documents the error body, never bound to data.
    fields = serializers.DictField(  # type: ignore[assignment]
        child=serializers.ListField(child=serializers.CharField()),
        help_text="Messages for each bad input field (empty when the error is not about input).",
    )
