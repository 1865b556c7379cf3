"""OpenAPI: every operation documents the error responses it can give, in the one error format."""

from drf_spectacular.contrib.django_filters import DjangoFilterExtension
from drf_spectacular.openapi import AutoSchema
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse
from rest_framework.permissions import AllowAny

from core.api.exceptions import ErrorSerializer
from core.api.permissions import ScopedPermission

ERRORS = {
    "400": "Bad input: `fields` names each bad field.",
    "401": "No key (where one is needed), or a key that is invalid, revoked or expired.",
    "403": "The key lacks the scope this operation needs.",
    "404": "No such record (or one this key may not see), or an invalid cursor.",
    "406": "The Accept header asks for a format the API does not give (it answers JSON).",
    "429": "Too many requests for this key, or too many bad keys from this address: wait the "
    "seconds in `Retry-After`.",
}
# Operations that take a body also refuse one too large, or one that is not JSON.
BODY_ERRORS = {
    "400": "Bad input: `fields` names each bad field; or a body that is not valid JSON, or "
    "nests deeper than 16 levels (`parse_error`).",
    "413": "The request body is larger than 64 KB.",
    "415": "The request body is not JSON (send `Content-Type: application/json`).",
}


IDEMPOTENCY_KEY = OpenApiParameter(
    "Idempotency-Key",
    {"type": "string", "minLength": 1, "maxLength": 255},
    OpenApiParameter.HEADER,
    required=False,
    description="Any unique string (e.g. a UUID), 1 to 255 characters. Sent again with the "
    "same request, it returns the first answer (header `Idempotent-Replayed: true`) "
    "and creates nothing new; with a different request, 409; when what it created "
    "has been deleted since, 410.",
)


# Text without NUL characters (Django's forms and DRF's fields refuse them), and not blank.
NO_NUL_TEXT = r"^[^\u0000]*$"
NON_BLANK_TEXT = r"^[^\u0000]*[^\s\u0000][^\u0000]*$"


class CarshopAutoSchema(AutoSchema):
    def _idempotent(self):
        return getattr(self.view, "idempotent_create", False) and self.method == "POST"

    def get_override_parameters(self):
        parameters = list(super().get_override_parameters())
        if self._idempotent():
            parameters.append(IDEMPOTENCY_KEY)
        return parameters

    def _get_response_bodies(self, direction="response"):
        responses = super()._get_response_bodies(direction)
        if self._idempotent():
            responses["409"] = self._get_response_for_code(
                OpenApiResponse(
                    response=ErrorSerializer,
                    description="The Idempotency-Key was used for another request.",
                ),
                "409",
                direction=direction,
            )
            responses["410"] = self._get_response_for_code(
                OpenApiResponse(
                    response=ErrorSerializer,
                    description="A replay (same Idempotency-Key) of a creation "
                    "whose record has been deleted since.",
                ),
                "410",
                direction=direction,
            )
        public = any(isinstance(p, AllowAny) for p in self.view.get_permissions())
        errors = dict(ERRORS)
        if self.method in ("POST", "PUT", "PATCH"):
            errors.update(BODY_ERRORS)
        for code, description in errors.items():
            # A public operation needs no key, but a bad one is still refused (401).
            if code in responses or (public and code == "403"):
                continue
            responses[code] = self._get_response_for_code(
                OpenApiResponse(response=ErrorSerializer, description=description),
                code,
                direction=direction,
            )
        return dict(sorted(responses.items()))

    def get_auth(self):
        auth = super().get_auth()
        permissions = self.view.get_permissions()
        keys_only = permissions and all(
            isinstance(p, ScopedPermission) and not p.staff for p in permissions
        )
        if keys_only:
            auth = [entry for entry in auth if "cookieAuth" not in entry]
        return auth

    def get_extensions(self):
        extensions = dict(super().get_extensions() or {})
        scopes = set()
        for permission in self.view.get_permissions():
            if isinstance(permission, ScopedPermission):
                scope = (
                    permission.read_scope
                    if self.method in ("GET", "HEAD", "OPTIONS")
                    else permission.write_scope
                )
                scopes.add(scope or "any")
        if scopes:
            extensions["x-required-scope"] = " or ".join(sorted(scopes))
        return extensions


class CarshopFilterExtension(DjangoFilterExtension):
    """Query parameters as the filters check them: the bounds of numbers and ids (`?customer=0`
    is a 400, so the schema says minimum 1), and no empty values (`?make=` is a 400, so strings
    need a character that is not a space, and lists an item)."""

    priority = 1

    def resolve_filter_field(self, auto_schema, model, filterset_class, field_name, filter_field):
        parameters = super().resolve_filter_field(
            auto_schema, model, filterset_class, field_name, filter_field
        )
        for parameter in parameters:
            schema = parameter["schema"]
            value = schema.get("items", schema) if schema.get("type") == "array" else schema
            if schema.get("type") == "array":
                schema["minItems"] = 1
            if filter_field.extra.get("min_value") is not None:
                value["minimum"] = filter_field.extra["min_value"]
            if filter_field.extra.get("max_value") is not None:
                value["maximum"] = filter_field.extra["max_value"]
            if value.get("type") == "string" and "enum" not in value and "format" not in value:
                # Not empty or blank, and no NUL (Django's forms refuse it).
                value.update({"minLength": 1, "pattern": NON_BLANK_TEXT})
        return parameters


def close_request_bodies(result, generator, request, public):
    """Postprocessing hook: a request body takes only the fields its schema names
    (CarshopModelSerializer refuses the others), so say additionalProperties: false; and its
    text fields take no NUL character (DRF refuses it), so say that too."""
    for name, component in result.get("components", {}).get("schemas", {}).items():
        if name.endswith("Request") and component.get("type") == "object":
            component["additionalProperties"] = False
            for field in component.get("properties", {}).values():
                for variant in [field, *field.get("oneOf", ())]:
                    if (
                        variant.get("type") == "string"
                        and not variant.get("readOnly")
                        and not {"pattern", "format", "enum"} & set(variant)
                        and variant.get("maxLength") != 0
                    ):
                        variant["pattern"] = NO_NUL_TEXT
    return result
