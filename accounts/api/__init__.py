"""The partner REST API's shared machinery, used by every app's endpoints.

- authentication.ApiKeyAuthentication: `Authorization: Api-Key <key>`; credits the audit log.
- permissions.HasScope("repairs:read"): what a key needs for a view; staff sessions use their
  role's model permissions instead.
- throttling.ApiKeyRateThrottle: requests per key (API_KEY_THROTTLE_RATE or the key's own rate),
  counted atomically in the shared cache; UnauthenticatedRateThrottle: bad or missing keys per
  client address.
- parsers.CarshopJSONParser: JSON bodies only, at most 64 KB and 16 levels deep.
- exceptions.api_exception_handler: one error format, {"code", "message", "fields"}.
- pagination.CarshopCursorPagination: cursor pages that never skip or repeat a row.
- filters.CarshopFilterSet: django-filter with foreign keys filtered by id; unknown query
  parameters are refused (filters.RejectUnknownParameters).
- fields.CarshopModelSerializer: JSON types taken as they are (no "true" for true).
- idempotency.IdempotentCreateMixin: `Idempotency-Key` on creations.
- schema.CarshopAutoSchema: documents the error responses of every operation.
- views.PartnerScopedViewSet: base of read-only partner endpoints.
"""
