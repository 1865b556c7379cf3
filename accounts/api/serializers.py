"""Serializers of the accounts endpoints: the calling partner, its webhook subscriptions."""

from rest_framework import serializers

from accounts.api.fields import CarshopModelSerializer, StrictURLField
from accounts.models import Partner, PartnerKey, WebhookSubscription
from accounts.scopes import EVENT_CHOICES, SCOPE_CHOICES


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


class WebhookSubscriptionSerializer(CarshopModelSerializer):
    url = StrictURLField(max_length=500, help_text="Where events are POSTed (https).")
    events = serializers.ListField(
        child=serializers.ChoiceField(choices=EVENT_CHOICES), allow_empty=False, min_length=1,
        max_length=20,
        help_text="Event types to receive; each needs a scope of your key.")

    class Meta:
        model = WebhookSubscription
        fields = ["id", "url", "events", "description", "is_active", "created_at"]
        read_only_fields = ["id", "created_at"]


class WebhookSubscriptionCreatedSerializer(WebhookSubscriptionSerializer):
    """The subscription as created: the only time its signing secret is shown."""

    secret = serializers.CharField(
        read_only=True, help_text="Verifies the X-Carshop-Signature header. Shown only now.")

    class Meta(WebhookSubscriptionSerializer.Meta):
        fields = [*WebhookSubscriptionSerializer.Meta.fields, "secret"]


class ApiRootSerializer(serializers.Serializer):
    version = serializers.CharField()
    endpoints = serializers.DictField(child=serializers.CharField())
    scopes = serializers.DictField(child=serializers.CharField())
    events = serializers.DictField(child=serializers.CharField())
