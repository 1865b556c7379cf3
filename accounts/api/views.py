"""API views of accounts, and the base class of partner endpoints in every app."""

from django.urls import NoReverseMatch, reverse
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import exceptions, generics, mixins, viewsets
from rest_framework.decorators import action
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts import services
from accounts.api.idempotency import IdempotentCreateMixin
from accounts.api.permissions import HasScope, PartnerKeyRequired, partner_key
from accounts.api.serializers import (
    ApiRootSerializer,
    MeSerializer,
    WebhookSubscriptionCreatedSerializer,
    WebhookSubscriptionSerializer,
    WebhookSubscriptionUpdateSerializer,
)
from accounts.models import WebhookSubscription
from accounts.scopes import EVENTS, SCOPES
from core.api.filters import CarshopFilterSet
from core.replicas import read_database


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

    required_scope: str | None = None
    required_write_scope: str | None = None

    def get_permissions(self):
        return [
            HasScope(
                read=self.required_scope, write=self.required_write_scope or self.required_scope
            )
        ]

    def limit_to_partner(self, queryset, partner):
        return queryset

    def get_queryset(self):
        queryset = super().get_queryset()
        if getattr(self, "swagger_fake_view", False):
            return queryset.none()
        key = partner_key(self.request)
        if key is not None:
            queryset = self.limit_to_partner(queryset, key.partner)
        if self.action == "list":
            # List pages read from the read replica, unless the caller has just written.
            queryset = queryset.using(read_database(self.request))
        return queryset


class ApiRootView(APIView):
    """What the API offers: its endpoints, the scopes keys can have, the webhook events."""

    permission_classes = [AllowAny]
    endpoints: dict[str, str] = {}

    @extend_schema(summary="What the API offers", responses=ApiRootSerializer, tags=["api"])
    def get(self, request):
        links = {}
        for name, url_name in self.endpoints.items():
            try:
                links[name] = request.build_absolute_uri(reverse(url_name))
            except NoReverseMatch:  # pragma: no cover - a route registered without a list view
                continue
        return Response({"version": "v1", "endpoints": links, "scopes": SCOPES, "events": EVENTS})


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
    create=extend_schema(
        summary="Subscribe a URL to events",
        request=WebhookSubscriptionSerializer,
        responses={201: WebhookSubscriptionCreatedSerializer},
    ),
    partial_update=extend_schema(
        summary="Pause or resume a subscription, change its events, or rotate its secret",
        request=WebhookSubscriptionUpdateSerializer,
        responses={200: WebhookSubscriptionCreatedSerializer},
    ),
    verify=extend_schema(
        summary="Send the verification handshake to the URL again",
        request=None,
        responses={200: WebhookSubscriptionSerializer},
    ),
    destroy=extend_schema(summary="Delete a webhook subscription"),
)
@extend_schema(tags=["webhooks"])
class WebhookSubscriptionViewSet(
    IdempotentCreateMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    mixins.DestroyModelMixin,
    PartnerScopedViewSet,
):
    """The calling partner's webhook subscriptions. Events are limited to the key's scopes; the
    signing secret is in the creation response only (and in its replays: a creation sent again
    with the same Idempotency-Key returns the first answer), or in the answer to a PATCH that
    rotates it. A URL receives events once it echoed the verification handshake."""

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
        # subscribe() commits the row, then sends the handshake (no transaction held open while
        # the partner's server answers, unless an Idempotency-Key's record wraps the request).
        serializer.instance = services.subscribe(
            key.partner, scopes=key.scopes, **serializer.validated_data
        )

    def partial_update(self, request, *args, **kwargs):
        subscription = self.get_object()
        change = WebhookSubscriptionUpdateSerializer(data=request.data, partial=True)
        change.is_valid(raise_exception=True)
        data = change.validated_data
        secret = services.update_subscription(
            subscription,
            scopes=partner_key(request).scopes,
            is_active=data.get("is_active"),
            description=data.get("description"),
            events=data.get("events"),
            rotate_secret=data.get("rotate_secret", False),
        )
        if secret:
            return Response(WebhookSubscriptionCreatedSerializer(subscription).data)
        return Response(WebhookSubscriptionSerializer(subscription).data)

    @action(detail=True, methods=["post"])
    def verify(self, request, *args, **kwargs):
        subscription = self.get_object()
        services.verify_subscription(subscription)
        return Response(WebhookSubscriptionSerializer(subscription).data)
