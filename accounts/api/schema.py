"""OpenAPI: every operation documents the error responses it can give, in the one error format."""

from drf_spectacular.openapi import AutoSchema
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse
from rest_framework.permissions import AllowAny

from accounts.api.exceptions import ErrorSerializer
from accounts.api.permissions import HasScope

ERRORS = {
    "400": "Bad input: `fields` names each bad field.",
    "401": "No key, or a key that is invalid, revoked or expired.",
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
    "Idempotency-Key", {"type": "string", "minLength": 1, "maxLength": 255},
    OpenApiParameter.HEADER, required=False,
    description="Any unique string (e.g. a UUID), 1 to 255 characters. Sent again with the "
                "same request, it returns the first answer (header `Idempotent-Replayed: true`) "
                "and creates nothing new; with a different request, 409.",
)


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
                OpenApiResponse(response=ErrorSerializer,
                                description="The Idempotency-Key was used for another request."),
                "409", direction=direction)
        public = any(isinstance(p, AllowAny) for p in self.view.get_permissions())
        errors = dict(ERRORS)
        if self.method in ("POST", "PUT", "PATCH"):
            errors.update(BODY_ERRORS)
        for code, description in errors.items():
            if code in responses or (public and code in ("401", "403")):
                continue
            responses[code] = self._get_response_for_code(
                OpenApiResponse(response=ErrorSerializer, description=description), code,
                direction=direction)
        return dict(sorted(responses.items()))

    def get_auth(self):
        auth = super().get_auth()
        permissions = self.view.get_permissions()
        keys_only = permissions and all(
            isinstance(p, HasScope) and not p.staff for p in permissions)
        if keys_only:
            auth = [entry for entry in auth if "cookieAuth" not in entry]
        return auth

    def get_extensions(self):
        extensions = dict(super().get_extensions() or {})
        scopes = set()
        for permission in self.view.get_permissions():
            if isinstance(permission, HasScope):
                scope = (permission.read_scope if self.method in ("GET", "HEAD", "OPTIONS")
                         else permission.write_scope)
                scopes.add(scope or "any")
        if scopes:
            extensions["x-required-scope"] = " or ".join(sorted(scopes))
        return extensions
