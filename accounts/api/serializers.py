"""Serializers of the accounts endpoints: the calling partner, its webhook subscriptions."""

from rest_framework import serializers

from accounts.models import Partner, PartnerKey, WebhookSubscription
from accounts.scopes import EVENT_CHOICES, SCOPE_CHOICES
from core.api.fields import CarshopModelSerializer, StrictBooleanField, StrictURLField


class PartnerSerializer(serializers.ModelSerializer):
    class Meta:
        model = Partner
        fields = ["name", "slug", "kind"]


class KeySerializer(serializers.ModelSerializer):
    scopes = serializers.ListField(child=serializers.ChoiceField(choices=SCOPE_CHOICES))
    throttle_rate = serializers.SerializerMethodField()

    class Meta:
        model = PartnerKey
        fields = ["name", "prefix", "scopes", "expires_at", "created_at", "throttle_rate"]

    def get_throttle_rate(self, key) -> str:
        from django.conf import settings

        return key.throttle_rate or settings.API_KEY_THROTTLE_RATE


class MeSerializer(serializers.Serializer):
    """The partner the key belongs to, and the key itself."""

    partner = PartnerSerializer()
    key = KeySerializer()


def _events_field(**options):
    return serializers.ListField(
        child=serializers.ChoiceField(choices=EVENT_CHOICES),
        allow_empty=False,
        min_length=1,
        max_length=20,
        help_text="Event types to receive; each needs a scope of your key.",
        **options,
    )


class WebhookSubscriptionSerializer(CarshopModelSerializer):
    url = StrictURLField(
        max_length=500,
        help_text="Where events are POSTed: https on port 443, on a public host. It must first "
        "answer the verification handshake (see docs/api/partners.md).",
    )
    events = _events_field()
    verified_at = serializers.DateTimeField(
        read_only=True,
        allow_null=True,
        help_text="When the URL echoed the verification challenge; null: it receives nothing.",
    )
    verification_error = serializers.CharField(
        read_only=True, help_text="Why the last verification failed (empty when verified)."
    )

    class Meta:
        model = WebhookSubscription
        fields = [
            "id",
            "url",
            "events",
            "description",
            "is_active",
            "verified_at",
            "verification_error",
            "created_at",
        ]
        read_only_fields = ["id", "created_at"]


class WebhookSubscriptionUpdateSerializer(CarshopModelSerializer):
    """PATCH: pause or resume, change the description or the events, rotate the secret. The URL
    cannot change: subscribe the new URL (it is verified) and delete the old subscription."""

    events = _events_field(required=False)
    rotate_secret = StrictBooleanField(
        required=False,
        write_only=True,
        help_text="true: a new signing secret replaces the old one at once; the answer shows it, "
        "only then.",
    )

    class Meta:
        model = WebhookSubscription
        fields = ["is_active", "description", "events", "rotate_secret"]
        extra_kwargs = {"is_active": {"required": False}, "description": {"required": False}}

    unknown_field_messages = {
        "url": "Cannot be changed. To move to another URL, subscribe it and delete this "
        "subscription.",
    }

    def validate(self, attrs):
        if not attrs:
            raise serializers.ValidationError(
                "Send is_active, description, events or rotate_secret."
            )
        return attrs


class WebhookSubscriptionCreatedSerializer(WebhookSubscriptionSerializer):
    """The subscription as created: the only time its signing secret is shown."""

    secret = serializers.CharField(
        read_only=True, help_text="Verifies the X-Carshop-Signature header. Shown only now."
    )

    class Meta(WebhookSubscriptionSerializer.Meta):
        fields = [*WebhookSubscriptionSerializer.Meta.fields, "secret"]


class ApiRootSerializer(serializers.Serializer):
    version = serializers.CharField()
    endpoints = serializers.DictField(child=serializers.CharField())
    scopes = serializers.DictField(child=serializers.CharField())
    events = serializers.DictField(child=serializers.CharField())
