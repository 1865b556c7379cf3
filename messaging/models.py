"""Messages to customers, the templates they are written from, opt-outs and reminder rules.

Business rules (who may be written to, rendering, sending, retrying) live in services.py,
rendering.py and reminders.py."""

import uuid

from django.conf import settings
from django.db import models

from accounts.models import Customer, Location
from messaging.choices import Channel, Kind, RuleKind, Status


class MessageTemplate(models.Model):
    """The words of one kind of message on one channel, for one shop (or for every shop of the
    group when no location is set: a shop's own template wins). Rendered by
    messaging.rendering with only the variables it lists."""

    location = models.ForeignKey(
        Location,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="message_templates",
        help_text="Empty: every shop that has no template of its own for this message.",
    )
    kind = models.CharField(max_length=24, choices=Kind.choices)
    channel = models.CharField(max_length=8, choices=Channel.choices)
    subject = models.CharField(
        max_length=200, blank=True, help_text="Email only: the subject line (a template too)."
    )
    body = models.TextField(
        help_text="Variables in double braces, e.g. {{ customer_name }}; the list is below. The "
        "opt-out link (and for text messages the STOP line) is added to every message."
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["location_id", "kind", "channel"]
        constraints = [
            models.UniqueConstraint(
                fields=["location", "kind", "channel"],
                name="message_template_unique_per_shop",
                violation_error_message="This shop already has a template for this message.",
            ),
            models.UniqueConstraint(
                fields=["kind", "channel"],
                condition=models.Q(location__isnull=True),
                name="message_template_unique_group",
                violation_error_message="The group already has a template for this message.",
            ),
        ]

    def __str__(self):
        where = self.location.name if self.location_id else "every shop"
        return f"{self.get_kind_display()} by {self.get_channel_display()} ({where})"

    def clean(self):
        from messaging.rendering import check_template

        check_template(self.body, field="body")
        if self.subject:
            check_template(self.subject, field="subject")


class MessageQuerySet(models.QuerySet):
    def due_retries(self, now):
        return self.filter(status=Status.QUEUED, next_attempt_at__lte=now)


class Message(models.Model):
    """One message to one customer on one channel: what was sent, to whom, and what became of
    it. Written when the send is asked for (the body rendered then); the worker sends it."""

    customer = models.ForeignKey(Customer, on_delete=models.PROTECT, related_name="messages")
    location = models.ForeignKey(
        Location, null=True, blank=True, on_delete=models.PROTECT, related_name="messages"
    )
    repair_order = models.ForeignKey(
        "repairs.RepairOrder",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="messages",
    )
    kind = models.CharField(max_length=24, choices=Kind.choices)
    channel = models.CharField(max_length=8, choices=Channel.choices)
    to = models.CharField(max_length=254)
    template = models.ForeignKey(
        MessageTemplate, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    subject = models.CharField(max_length=300, blank=True)
    body = models.TextField()
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.QUEUED)
    error = models.TextField(blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    last_attempt_at = models.DateTimeField(null=True, blank=True)
    # One send request, one message: the form's key, or a reminder's rule+target+due date.
    idempotency_key = models.CharField(max_length=120, unique=True)
    # The provider's id of a text message (Twilio's MessageSid), for its status callbacks.
    provider_id = models.CharField(max_length=64, blank=True, db_index=True)
    # In the tracking pixel's URL (email opens).
    tracking_token = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    sent_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)
    opened_at = models.DateTimeField(null=True, blank=True)

    objects = MessageQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        # Messages are written by sending one (from a repair order's page), never added by hand.
        permissions = [("send_message", "Can send messages to customers")]
        indexes = [
            models.Index(fields=["customer", "-created_at"], name="message_customer_idx"),
            models.Index(fields=["status", "next_attempt_at"], name="message_status_due_idx"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(channel__in=["email", "sms"]),
                name="message_channel_valid",
                violation_error_message="A message goes by email or text message.",
            ),
        ]

    def __str__(self):
        return f"{self.get_kind_display()} to {self.to} ({self.get_status_display()})"


class OptOut(models.Model):
    """A customer who asked to receive no more messages (from a message's link, or told the
    shop). Nothing is sent to them any more; staff may delete the row when they opt in again."""

    class Via(models.TextChoices):
        LINK = "link", "the link in a message"
        SMS_STOP = "sms_stop", "replied STOP"
        STAFF = "staff", "told the shop"

    customer = models.OneToOneField(Customer, on_delete=models.CASCADE, related_name="opt_out")
    via = models.CharField(max_length=10, choices=Via.choices, default=Via.LINK)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self):
        return f"{self.customer} opted out ({self.get_via_display()})"


class ReminderRule(models.Model):
    """A reminder or follow-up the shop sends by itself (send_reminders): service due after an
    interval of days or of estimated miles, declined work after N days, appointments the day
    before. Only to customers who agreed to reminders."""

    name = models.CharField(max_length=120)
    location = models.ForeignKey(
        Location,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="reminder_rules",
        help_text="Whose template and header the messages use; empty: the default shop.",
    )
    kind = models.CharField(max_length=24, choices=RuleKind.choices)
    channel = models.CharField(max_length=8, choices=Channel.choices, default=Channel.EMAIL)
    interval_days = models.PositiveIntegerField(
        null=True,
        blank=True,
        help_text="Service due by date: days after the last visit. Declined work: days after "
        "the decision.",
    )
    interval_miles = models.PositiveIntegerField(
        null=True, blank=True, help_text="Service due by mileage: miles after the last visit."
    )
    is_active = models.BooleanField("active", default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name", "id"]
        constraints = [
            models.CheckConstraint(
                condition=~models.Q(kind__in=["service_due_date", "declined_followup"])
                | models.Q(interval_days__gt=0),
                name="reminder_rule_days_needed",
                violation_error_message="Give the number of days for this rule.",
            ),
            models.CheckConstraint(
                condition=~models.Q(kind="service_due_mileage") | models.Q(interval_miles__gt=0),
                name="reminder_rule_miles_needed",
                violation_error_message="Give the number of miles for this rule.",
            ),
        ]

    def __str__(self):
        return self.name
