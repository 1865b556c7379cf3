"""Messaging in the back office: templates and reminder rules (managers), the messages sent
(read-only), opt-outs, and the page an advisor sends a message from."""

import uuid

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import Q
from django.http import Http404, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html

from accounts.locations import allowed_location_ids, location_count
from accounts.models import default_location_id
from accounts.roles import sees_prices
from core.admin import CarshopModelAdmin, ReadOnlyMixin
from core.admin_actions import RefusalsAsMessages, add_refusal_to_form, refusal_text
from messaging import orders
from messaging.choices import PRICED_KINDS, Channel, Kind
from messaging.exceptions import MessagingError
from messaging.models import Message, MessageTemplate, OptOut, ReminderRule
from messaging.order_page import may_send
from messaging.rendering import VARIABLES, check_template
from repairs.models import RepairOrder


class MessageTemplateForm(forms.ModelForm):
    class Meta:
        model = MessageTemplate
        fields = ["location", "kind", "channel", "subject", "body"]

    def clean(self):
        cleaned = super().clean()
        for field in ("subject", "body"):
            try:
                check_template(cleaned.get(field) or "", field=field)
            except MessagingError as exc:
                add_refusal_to_form(self, exc)
        return cleaned


@admin.register(MessageTemplate)
class MessageTemplateAdmin(CarshopModelAdmin):
    form = MessageTemplateForm
    list_display = ("kind", "channel", "location", "subject", "updated_at")
    list_filter = ("kind", "channel", "location")
    search_fields = ("subject", "body")

    def get_form(self, request, obj=None, change=False, **kwargs):
        names = ", ".join(f"{{{{ {name} }}}} ({text})" for name, text in VARIABLES.items())
        kwargs["help_texts"] = {
            "body": MessageTemplate._meta.get_field("body").help_text + " Variables: " + names
        }
        return super().get_form(request, obj, change, **kwargs)


@admin.register(ReminderRule)
class ReminderRuleAdmin(CarshopModelAdmin):
    list_display = ("name", "kind", "channel", "interval_days", "interval_miles", "is_active")
    list_filter = ("kind", "channel", "is_active")


@admin.register(OptOut)
class OptOutAdmin(CarshopModelAdmin):
    list_display = ("customer", "via", "created_at")
    list_select_related = ("customer",)
    autocomplete_fields = ("customer",)
    search_fields = ("customer__display_name", "customer__email", "customer__phone")


class SendForm(forms.Form):
    kind = forms.ChoiceField(label="Message")
    channel = forms.ChoiceField(choices=Channel.choices, widget=forms.RadioSelect)
    key = forms.CharField(widget=forms.HiddenInput)

    def __init__(self, *args, kinds=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["kind"].choices = [(kind, Kind(kind).label) for kind in kinds]


@admin.register(Message)
class MessageAdmin(ReadOnlyMixin, RefusalsAsMessages, CarshopModelAdmin):
    list_display = ("created_at", "customer", "kind", "channel", "to", "status", "attempts")
    list_filter = ("status", "channel", "kind")
    list_select_related = ("customer",)
    search_fields = ("to", "customer__display_name")
    date_hierarchy = "created_at"
    fields = (
        "customer",
        "repair_order",
        "kind",
        "channel",
        "to",
        "subject",
        "body",
        "status",
        "error",
        "attempts",
        "sent_by",
        "created_at",
        "sent_at",
        "delivered_at",
        "opened_at",
    )

    def get_queryset(self, request):
        """In a group, the messages of the locations the user works at (a message without a
        location is the default shop's); another location's message is not found."""
        queryset = super().get_queryset(request)
        if location_count() < 2:
            return queryset
        allowed = allowed_location_ids(request.user)
        mine = Q(location__in=allowed)
        if default_location_id() in allowed:
            mine |= Q(location__isnull=True)
        return queryset.filter(mine)

    def get_fields(self, request, obj=None):
        # Message bodies show prices (estimates, invoices): only for who may see prices.
        if sees_prices(request.user):
            return self.fields
        return tuple(name for name in self.fields if name not in ("subject", "body"))

    def get_urls(self):
        return [
            path(
                "send/<int:order_id>/",
                self.admin_site.admin_view(self.send_view),
                name="messaging_message_send",
            ),
            *super().get_urls(),
        ]

    def send_view(self, request, order_id):
        """Send a message about a repair order: which one, by email or text."""
        if not may_send(request.user):
            raise PermissionDenied
        order = (
            RepairOrder.objects.select_related("customer", "vehicle", "invoice")
            .filter(pk=order_id)
            .first()
        )
        if order is None:
            raise Http404("No such repair order.")
        kinds = [
            kind
            for kind in orders.kinds_offered(order)
            if kind not in PRICED_KINDS or sees_prices(request.user)
        ]
        change_url = reverse("admin:repairs_repairorder_change", args=[order.pk])
        if not kinds:
            self.message_user(request, f"{order.number}: nothing to send now.", messages.ERROR)
            return HttpResponseRedirect(change_url)
        if request.method == "POST":
            form = SendForm(request.POST, kinds=kinds)
            if form.is_valid():
                try:
                    message, created = orders.send_for_order(
                        order,
                        form.cleaned_data["kind"],
                        form.cleaned_data["channel"],
                        user=request.user,
                        idempotency_key=f"form:{form.cleaned_data['key']}",
                    )
                except MessagingError as exc:
                    add_refusal_to_form(form, exc)
                else:
                    message.refresh_from_db()
                    text = (
                        "{}: “{}” to {} by {}: {}."
                        if created
                        else "{}: “{}” to {} by {} was already asked for: {} (not sent again)."
                    )
                    self.message_user(
                        request,
                        format_html(
                            text,
                            order.number,
                            message.get_kind_display(),
                            message.to,
                            message.get_channel_display(),
                            message.get_status_display()
                            + (f" ({message.error})" if message.error else ""),
                        ),
                        messages.SUCCESS if message.status != "failed" else messages.WARNING,
                    )
                    return HttpResponseRedirect(change_url)
        else:
            channel = Channel.EMAIL if order.customer.email else Channel.SMS
            form = SendForm(
                initial={"key": uuid.uuid4().hex, "channel": channel, "kind": kinds[0]},
                kinds=kinds,
            )
        context = {
            **self.admin_site.each_context(request),
            "title": f"Message {order.customer} about {order.number}",
            "opts": self.model._meta,
            "form": form,
            "order": order,
            "change_url": change_url,
            "refusal": refusal_text,
        }
        return TemplateResponse(request, "admin/messaging/message/send.html", context)
