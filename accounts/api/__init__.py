"""The partner side of the REST API: keys, scopes and webhooks (what every app's API shares,
the error format, parsers, pagination, filters, fields and schema, is in core.api).

- authentication.ApiKeyAuthentication: `Authorization: Api-Key <key>`; credits the audit log.
- permissions.HasScope("repairs:read"): what a key needs for a view; staff sessions use their
  role's model permissions instead.
- throttling.ApiKeyRateThrottle: requests per key (API_KEY_THROTTLE_RATE or the key's own rate),
  counted atomically in the shared cache; UnauthenticatedRateThrottle: bad or missing keys per
  client address.
- idempotency.IdempotentCreateMixin: `Idempotency-Key` on creations (remembered per partner).
- views.PartnerScopedViewSet: base of read-only partner endpoints.

In core.api: parsers.CarshopJSONParser (JSON only, at most 64 KB and 16 levels deep);
exceptions.api_exception_handler (one error format, {"code", "message", "fields"}; any
DomainError is a 400); pagination.CarshopCursorPagination; filters.CarshopFilterSet;
fields.CarshopModelSerializer; rows (list pages from .values()); schema.CarshopAutoSchema.
"""
