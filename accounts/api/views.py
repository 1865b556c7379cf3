"""API views of accounts, and the base class of partner endpoints in every app."""

from django.db import transaction
from django.urls import NoReverseMatch, reverse
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import exceptions, generics, mixins, viewsets
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts import services
from accounts.api.filters import CarshopFilterSet
from accounts.api.idempotency import IdempotentCreateMixin
from accounts.api.permissions import HasScope, PartnerKeyRequired, partner_key
from accounts.api.serializers import (
    ApiRootSerializer,
    MeSerializer,
    WebhookSubscriptionCreatedSerializer,
    WebhookSubscriptionSerializer,
)
from accounts.models import WebhookSubscription
from accounts.scopes import EVENTS, SCOPES


class PartnerScopedViewSet(viewsets.GenericViewSet):
    """Base of partner endpoints: declare the scope, the queryset and how a partner's rows are
    limited; the rest (auth, throttle, errors, pagination, filters) comes from the settings.

        class RepairOrderViewSet(PartnerScopedViewSet, mixins.ListModelMixin,
                                 mixins.RetrieveModelMixin):
            required_scope = REPAIRS_READ
            queryset = RepairOrder.objects.select_related(...)
            serializer_class = RepairOrderSerializer
            filterset_class = RepairOrderFilterSet

            def limit_to_partner(self, queryset, partner):
                return queryset.filter(vehicle__owner__partners=partner)

    A record outside the partner's rows is simply not in the queryset, so asking for it gives
    404, exactly as for a record that does not exist.
    """

    required_scope = None
    required_write_scope = None

    def get_permissions(self):
        return [HasScope(read=self.required_scope,
                         write=self.required_write_scope or self.required_scope)]

    def limit_to_partner(self, queryset, partner):
        return queryset

    def get_queryset(self):
        queryset = super().get_queryset()
        if getattr(self, "swagger_fake_view", False):
            return queryset.none()
        key = partner_key(self.request)
        if key is not None:
            queryset = self.limit_to_partner(queryset, key.partner)
        return queryset


class ApiRootView(APIView):
    """What the API offers: its endpoints, the scopes keys can have, the webhook events."""

    permission_classes = [AllowAny]
    endpoints = {}

    @extend_schema(summary="What the API offers", responses=ApiRootSerializer, tags=["api"])
    def get(self, request):
        links = {}
        for name, url_name in self.endpoints.items():
            try:
                links[name] = request.build_absolute_uri(reverse(url_name))
            except NoReverseMatch:  # pragma: no cover - a route registered without a list view
                continue
        return Response({"version": "v1", "endpoints": links, "scopes": SCOPES,
                         "events": EVENTS})


class MeView(generics.GenericAPIView):
    """The calling partner and its key: name, scopes, expiry, rate limit."""

    permission_classes = [PartnerKeyRequired()]
    serializer_class = MeSerializer

    @extend_schema(summary="The calling partner and its key", tags=["partner"])
    def get(self, request):
        key = request.auth
        return Response(self.get_serializer({"partner": key.partner, "key": key}).data)


class WebhookSubscriptionFilterSet(CarshopFilterSet):
    class Meta:
        model = WebhookSubscription
        fields = ["is_active"]


@extend_schema_view(
    list=extend_schema(summary="List your webhook subscriptions"),
    retrieve=extend_schema(summary="One of your webhook subscriptions"),
    create=extend_schema(summary="Subscribe a URL to events",
                         request=WebhookSubscriptionSerializer,
                         responses={201: WebhookSubscriptionCreatedSerializer}),
    destroy=extend_schema(summary="Delete a webhook subscription"),
)
@extend_schema(tags=["webhooks"])
class WebhookSubscriptionViewSet(IdempotentCreateMixin, mixins.ListModelMixin,
                                 mixins.RetrieveModelMixin, mixins.CreateModelMixin,
                                 mixins.DestroyModelMixin, PartnerScopedViewSet):
    """The calling partner's webhook subscriptions. Events are limited to the key's scopes; the
    signing secret is in the creation response only (and in its replays: a creation sent again
    with the same Idempotency-Key returns the first answer)."""

    queryset = WebhookSubscription.objects.all()
    serializer_class = WebhookSubscriptionSerializer
    filterset_class = WebhookSubscriptionFilterSet
    ordering_fields = ["id", "created_at"]

    def get_permissions(self):
        return [PartnerKeyRequired()]

    def limit_to_partner(self, queryset, partner):
        return queryset.filter(partner=partner)

    def get_serializer_class(self):
        if self.action == "create":
            return WebhookSubscriptionCreatedSerializer
        return super().get_serializer_class()

    def perform_create(self, serializer):
        key = partner_key(self.request)
        if key is None:  # pragma: no cover - the permission admits keys only
            raise exceptions.PermissionDenied()
        with transaction.atomic():
            serializer.instance = services.subscribe(key.partner, scopes=key.scopes,
                                                     **serializer.validated_data)
