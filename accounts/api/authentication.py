"""`Authorization: Api-Key <key>` authentication for partners."""

from django.utils.translation import gettext_lazy as _
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import authentication, exceptions

from accounts.api.audit import credit_request
from accounts.api.throttling import UnauthenticatedRateThrottle
from accounts.services import find_usable_key, record_key_use

KEYWORD = "Api-Key"


class ApiKeyAuthentication(authentication.BaseAuthentication):
    """A partner's key. request.user is the partner's inactive service user, request.auth the
    PartnerKey. One message for unknown, revoked and expired keys and inactive partners: a caller
    learns nothing about keys it does not hold. Each failure counts against the client's address
    (UnauthenticatedRateThrottle, in the exception handler); past its rate, the address's keys
    are not even looked up."""

    failure_message = _("The API key is invalid, revoked or expired.")

    def authenticate(self, request):
        header = authentication.get_authorization_header(request).decode("latin-1")
        keyword, _sep, plain = header.strip().partition(" ")
        if keyword.lower() != KEYWORD.lower():
            return None
        guesses = UnauthenticatedRateThrottle()
        if guesses.exhausted(request):  # too many bad keys from this address: no more checks
            raise exceptions.Throttled(guesses.wait())
        plain = plain.strip()
        if not plain:
            raise exceptions.AuthenticationFailed(_("The Api-Key header has no key."))
        key = find_usable_key(plain)
        if key is None:
            raise exceptions.AuthenticationFailed(self.failure_message)
        record_key_use(key)
        user = key.partner.user
        credit_request(user, key.prefix)
        return user, key

    def authenticate_header(self, request):
        return KEYWORD


class ApiKeyAuthenticationScheme(OpenApiAuthenticationExtension):
    target_class = ApiKeyAuthentication
    name = "ApiKeyAuth"

    def get_security_definition(self, auto_schema):
        return {
            "type": "apiKey",
            "in": "header",
            "name": "Authorization",
            "description": "`Api-Key <key>`: a partner key issued in the admin, shown once.",
        }
