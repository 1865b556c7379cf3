"""`Idempotency-Key` for partner writes: the same key sent again by the same partner returns the
first answer and writes nothing new (a marketplace retrying a lead post after a timeout creates
one lead).

    class LeadViewSet(IdempotentCreateMixin, mixins.CreateModelMixin, PartnerScopedViewSet):
        ...

Only successful answers are kept: a request refused with 400 may be corrected and sent again
with the same key. A replay after what the first request created was deleted (a webhook
subscription deleted since) answers 410 rather than the first 201: that answer is no longer
true, and creating it again is a new request, with a new key. The same key with a different
body is refused with 409. Two requests with the same key at the same moment: the second waits
for the first (the unique constraint on (partner, key) holds it) and then returns its answer.
Keys are remembered IDEMPOTENCY_KEY_HOURS (accounts.services.forget_idempotency_keys removes
older ones).
"""

import hashlib
import json

from django.db import IntegrityError, transaction
from rest_framework import exceptions
from rest_framework.response import Response

from accounts.api.permissions import partner_key
from accounts.models import IdempotentRequest

HEADER = "Idempotency-Key"
MAX_LENGTH = 255


class IdempotencyConflict(exceptions.APIException):
    status_code = 409
    default_code = "idempotency_conflict"
    default_detail = "This Idempotency-Key was already used for a different request."


class IdempotentResourceGone(exceptions.APIException):
    status_code = 410
    default_code = "idempotent_resource_gone"
    default_detail = (
        "What this Idempotency-Key created has been deleted since. To create it "
        "again, send the request with a new key."
    )


def fingerprint(request):
    try:
        body = json.dumps(request.data, sort_keys=True, separators=(",", ":"), default=str)
    except (TypeError, ValueError):
        body = repr(request.data)
    text = f"{request.method} {request.path}\n{body}"
    return hashlib.sha256(text.encode()).hexdigest()


class IdempotentCreateMixin:
    """Makes `create` idempotent for requests with an Idempotency-Key (partner keys only)."""

    idempotent_create = True

    def create(self, request, *args, **kwargs):
        idempotency_key = request.headers.get(HEADER)
        key = partner_key(request)
        if idempotency_key is None or key is None:
            return super().create(request, *args, **kwargs)
        idempotency_key = idempotency_key.strip()
        if not idempotency_key or len(idempotency_key) > MAX_LENGTH:
            raise exceptions.ValidationError(
                {HEADER: [f"Give 1 to {MAX_LENGTH} characters, e.g. a UUID."]}
            )
        print_ = fingerprint(request)
        with transaction.atomic():
            try:
                with transaction.atomic():
                    record = IdempotentRequest.objects.create(
                        partner=key.partner, key=idempotency_key, fingerprint=print_
                    )
            except IntegrityError:
                record = IdempotentRequest.objects.select_for_update().get(
                    partner=key.partner, key=idempotency_key
                )
                if record.fingerprint != print_ or record.response_status is None:
                    raise IdempotencyConflict() from None
                if not self._still_exists(record.response_body):
                    raise IdempotentResourceGone() from None
                return Response(
                    record.response_body,
                    status=record.response_status,
                    headers={"Idempotent-Replayed": "true"},
                )
            # A refusal (exception) rolls back the record with the write: the key stays free.
            response = super().create(request, *args, **kwargs)
            if 200 <= response.status_code < 300:
                IdempotentRequest.objects.filter(pk=record.pk).update(
                    response_status=response.status_code, response_body=response.data
                )
            else:
                IdempotentRequest.objects.filter(pk=record.pk).delete()
        return response

    def _still_exists(self, body):
        """Whether what the first request created is still there (and visible to the
        partner): a replay must not return a 201 for something deleted since."""
        created = body.get("id") if isinstance(body, dict) else None
        if created is None:
            return True
        return self.get_queryset().filter(pk=created).exists()
