from auditlog.admin import LogEntryAdmin as AuditlogLogEntryAdmin
from auditlog.models import LogEntry
from django import forms
from django.contrib import admin, messages
from django.contrib.auth.admin import GroupAdmin as DjangoGroupAdmin
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.contrib.auth.models import Group, Permission
from django.db import models
from django.db.models import Q
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import timezone
from django.utils.cache import add_never_cache_headers
from django.utils.html import format_html, format_html_join
from django.utils.text import slugify

from accounts import services, webhooks
from accounts.admin_exports import RoleExportMixin
from accounts.exceptions import AccountsError
from accounts.locations import allowed_location_ids
from accounts.models import (
    Customer,
    Location,
    Partner,
    PartnerKey,
    ShopSettings,
    User,
    WebhookDelivery,
    WebhookEvent,
    WebhookSubscription,
)
from accounts.price_hiding import PriceHidingMixin
from accounts.resources import CustomerResource
from accounts.scopes import ACCOUNTING_READ, EVENT_CHOICES, SCOPE_CHOICES
from core.admin import (
    CarshopModelAdmin,
    ReadOnlyMixin,
    ids_or_subquery,
    page_viewer_may_open,
    render_for,
)
from core.admin_actions import add_refusal_to_form
from core.history import HistoryPanelsMixin

# What only a superuser may see or change on a user: who is superuser, in which role (group),
# with which permissions of their own.
PRIVILEGE_FIELDS = ("is_superuser", "groups", "user_permissions", "home_location", "locations")


def may_manage_user(actor, user):
    """Whether `actor` may change `user` (their details, activity, password).

    A superuser may change anyone. Anyone else with the permission to change users may change
    only users who hold no permission the actor lacks, and never a superuser: setting the
    password of someone with more rights would be a way to raise one's own privileges."""
    if actor.is_superuser:
        return True
    if user.is_superuser:
        return False
    return held_permissions(user) <= actor.get_all_permissions()


def held_permissions(user):
    """The permissions `user` holds, through roles or their own, whether or not the account is
    active (an inactive manager reactivated would have them all again)."""
    rows = (
        Permission.objects.filter(Q(user=user) | Q(group__user=user))
        .values_list("content_type__app_label", "codename")
        .distinct()
    )
    return {f"{app_label}.{codename}" for app_label, codename in rows}


def _without_fields(fieldsets, hidden):
    return [
        (title, {**options, "fields": [name for name in options["fields"] if name not in hidden]})
        for title, options in fieldsets
    ]


@admin.register(User)
class UserAdmin(CarshopModelAdmin, DjangoUserAdmin):
    """Staff users. Only a superuser grants or changes superuser and staff status, roles and
    permissions (accounts.roles); anyone else who may change users sees no privileges, staff
    status read-only, and cannot change a user with rights they do not have themselves."""

    list_display = (
        "username",
        "first_name",
        "last_name",
        "email",
        "is_active",
        "is_staff",
        "last_login",
    )
    fieldsets = (
        *DjangoUserAdmin.fieldsets,  # type: ignore[misc]  # set on UserAdmin; stubs say Optional
        ("Contact", {"fields": ("phone",)}),
        ("Locations", {"fields": ("home_location", "locations")}),
    )

    def get_list_filter(self, request):
        if request.user.is_superuser:
            return ("is_active", "is_staff", "groups")
        return ("is_active", "is_staff")

    def get_fieldsets(self, request, obj=None):
        fieldsets = super().get_fieldsets(request, obj)
        if request.user.is_superuser:
            return fieldsets
        hidden = set(PRIVILEGE_FIELDS)
        if obj is not None and not self.has_change_permission(request, obj):
            # The password field is a "Reset password" button to a page they would be
            # refused (and a summary of the hash they have no use for).
            hidden.add("password")
        return _without_fields(fieldsets, hidden)

    def get_readonly_fields(self, request, obj=None):
        fields = tuple(super().get_readonly_fields(request, obj))
        if request.user.is_superuser:
            return fields
        return (*fields, "is_staff", "last_login", "date_joined")

    def get_exclude(self, request, obj=None):
        exclude = tuple(super().get_exclude(request, obj) or ())
        if request.user.is_superuser:
            return exclude or None
        # Whatever the request carries, the form has no privilege field to save.
        return (*exclude, *PRIVILEGE_FIELDS, "is_staff")

    def has_change_permission(self, request, obj=None):
        return super().has_change_permission(request, obj) and (
            obj is None or may_manage_user(request.user, obj)
        )

    def has_delete_permission(self, request, obj=None):
        return super().has_delete_permission(request, obj) and (
            obj is None or may_manage_user(request.user, obj)
        )


# Django's auth admin registers Group when imported (it is imported above, before this line).
admin.site.unregister(Group)
admin.site.unregister(LogEntry)


@admin.register(LogEntry)
class AuditLogEntryAdmin(AuditlogLogEntryAdmin):
    """django-auditlog's log, whose rows link to the row changed and to who changed it: the
    links only for a reader who may open those pages."""

    def changelist_view(self, request, extra_context=None):
        return render_for(request, super().changelist_view(request, extra_context))

    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        return render_for(
            request, super().changeform_view(request, object_id, form_url, extra_context)
        )

    @admin.display(description="Resource")
    def resource_url(self, obj):
        model = obj.content_type.model_class()
        if model is None or not page_viewer_may_open(self.admin_site, model):
            return f"{obj.content_type} - {obj.object_repr}"
        return super().resource_url(obj)

    @admin.display(description="User")
    def user_url(self, obj):
        if obj.actor and not page_viewer_may_open(self.admin_site, User):
            return str(obj.actor)
        return super().user_url(obj)


@admin.register(Group)
class GroupAdmin(DjangoGroupAdmin):
    """Roles: each group's permissions come from accounts.roles (setup_roles, every migrate).
    Others may look; only a superuser adds, changes or deletes a group, since a group's
    permissions are what its members may do."""

    def has_add_permission(self, request):
        return request.user.is_superuser

    def has_change_permission(self, request, obj=None):
        return request.user.is_superuser

    def has_delete_permission(self, request, obj=None):
        return request.user.is_superuser


@admin.register(Customer)
class CustomerAdmin(HistoryPanelsMixin, RoleExportMixin, CarshopModelAdmin):
    """Customers, with their vehicles, orders, invoices and deals below the form (core.history)."""

    export_resource_class = CustomerResource
    list_display = ("display_name", "kind", "phone", "email", "city", "consent_reminders")
    list_filter = ("kind", "consent_reminders")
    # Searched by CustomerQuerySet.search (index-friendly); listed here for autocomplete.
    search_fields = ("display_name", "phone", "email")
    search_help_text = "Name (or part of it), email, or phone number (any part, any format)."
    fieldsets = (
        (None, {"fields": ("kind", ("first_name", "last_name"), "company_name", "tax_id")}),
        ("Contact", {"fields": (("phone", "phone_other"), "email", "consent_reminders")}),
        ("Address", {"fields": ("address_line", ("city", "region", "postal_code"))}),
        ("Notes", {"fields": ("notes",)}),
    )

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        if change:
            return
        # Entered again at the counter? Added all the same (a family may share a phone), and
        # the advisor is shown who is on file, to keep one.
        others = services.customers_sharing_contact(obj)
        if others:
            links = format_html_join(
                ", ",
                '<a href="{}">{}</a>',
                (
                    (reverse("admin:accounts_customer_change", args=[other.pk]), other)
                    for other in others
                ),
            )
            self.message_user(
                request,
                format_html(
                    "{} already on file with this phone or email: {}. If it is the same "
                    "customer, keep one.",
                    "A customer is" if len(others) == 1 else "Customers are",
                    links,
                ),
                messages.WARNING,
            )

    def get_search_results(self, request, queryset, search_term):
        if not search_term.strip():
            return queryset, False
        # The matches are found first, by the trigram indexes, and the page is then sorted from
        # their ids. Asked for at once ("matching, by name, first 50"), PostgreSQL may walk the
        # whole book in name order looking for rare matches.
        return queryset.filter(pk__in=ids_or_subquery(queryset.search(search_term))), False


@admin.register(Location)
class LocationAdmin(CarshopModelAdmin):
    """The group's shops and lots. Each has its settings row (document header, rates, fees),
    made with the defaults when the location is added."""

    list_display = ("name", "code", "kind", "is_active")
    list_filter = ("kind", "is_active")
    search_fields = ("name", "code")
    fields = ("name", "code", "kind", "hours", "is_active")

    def get_queryset(self, request):
        return super().get_queryset(request).filter(pk__in=allowed_location_ids(request.user))

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        ShopSettings.of(obj)

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(ShopSettings)
class ShopSettingsAdmin(PriceHidingMixin, CarshopModelAdmin):
    list_display = (
        "location",
        "name",
        "labor_rate",
        "parts_tax_rate",
        "labor_tax_rate",
        "sales_tax_rate",
    )
    readonly_fields = ("location",)
    price_fields = (
        "labor_rate",
        "parts_tax_rate",
        "labor_tax_rate",
        "shop_supplies_rate",
        "shop_supplies_cap",
        "hazardous_waste_fee",
        "technician_cost_rate",
        "sales_tax_rate",
        "trade_in_reduces_sales_tax",
        "documentation_fee",
        "registration_fee",
    )
    fieldsets = (
        (
            "Document header",
            {"fields": ("location", "name", "address", "phone", "email", "tax_id")},
        ),
        (
            "Service shop",
            {
                "fields": (
                    "labor_rate",
                    "parts_tax_rate",
                    "labor_tax_rate",
                    "shop_supplies_rate",
                    "shop_supplies_cap",
                    "hazardous_waste_fee",
                    "technician_cost_rate",
                    "estimate_link_days",
                )
            },
        ),
        (
            "Car lot",
            {
                "fields": (
                    "sales_tax_rate",
                    "trade_in_reduces_sales_tax",
                    "documentation_fee",
                    "registration_fee",
                    "aging_threshold_days",
                )
            },
        ),
    )

    def get_queryset(self, request):
        queryset = super().get_queryset(request).select_related("location")
        return queryset.filter(location__in=allowed_location_ids(request.user))

    def has_add_permission(self, request):
        # A location's settings are made with it (LocationAdmin).
        return False

    def has_delete_permission(self, request, obj=None):
        return False


# ---------------------------------------------------------------------------------------------
# Partners of the API (managers): partners, keys shown once, webhook subscriptions, delivery log
# ---------------------------------------------------------------------------------------------


class PartnerForm(forms.ModelForm):
    slug = forms.SlugField(
        max_length=60,
        required=False,
        help_text="Short name (letters, digits, dashes); made from the name "
        "when empty. The service user is partner:<short name>.",
    )

    class Meta:
        model = Partner
        fields = (
            "name",
            "slug",
            "kind",
            "is_active",
            "contact_name",
            "contact_email",
            "contact_phone",
            "notes",
            "customers",
        )
        help_texts = {
            "kind": "Only an accounting system's keys with accounting:read read the invoices, "
            "credit notes and payments of every customer of the shop; any other "
            "partner's read those of its linked customer accounts only.",
        }

    def clean(self):
        cleaned = super().clean()
        if self.instance.pk is None and "slug" in self.fields:
            slug = slugify(cleaned.get("slug") or cleaned.get("name") or "")[:60]
            if not slug:
                self.add_error("slug", "Choose a short name made of letters and digits.")
            elif (
                Partner.objects.filter(slug=slug).exists()
                or User.objects.filter(username=services.service_username(slug)).exists()
            ):
                self.add_error("slug", f"The short name {slug!r} is taken.")
            cleaned["slug"] = slug
        return cleaned

    def validate_unique(self):
        # The slug is checked in clean() (it may be derived from the name).
        self.instance.slug = self.cleaned_data.get("slug") or self.instance.slug or "-"
        super().validate_unique()


class PartnerKeyInline(admin.TabularInline):
    model = PartnerKey
    fields = ("name", "prefix", "scopes", "expires_at", "revoked_at", "last_used_at")
    readonly_fields = fields
    extra = 0
    can_delete = False
    show_change_link = True

    def has_add_permission(self, request, obj=None):
        return False


class WebhookSubscriptionInline(admin.TabularInline):
    model = WebhookSubscription
    fields = ("url", "events", "is_active")
    readonly_fields = fields
    extra = 0
    can_delete = False
    show_change_link = True

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Partner)
class PartnerAdmin(CarshopModelAdmin):
    form = PartnerForm
    list_display = ("name", "kind", "is_active", "contact_name", "contact_email", "created_at")
    list_filter = ("kind", "is_active")
    search_fields = ("name", "slug", "contact_name", "contact_email")
    autocomplete_fields = ("customers",)
    readonly_fields = ("user", "created_at", "updated_at")
    inlines = (PartnerKeyInline, WebhookSubscriptionInline)
    fieldsets = (
        (None, {"fields": ("name", "slug", "kind", "is_active", "locations")}),
        ("Contact", {"fields": ("contact_name", "contact_email", "contact_phone", "notes")}),
        ("Fleet and insurance", {"fields": ("customers",)}),
        ("Service user", {"fields": ("user", "created_at", "updated_at")}),
    )

    def get_readonly_fields(self, request, obj=None):
        fields = super().get_readonly_fields(request, obj)
        return (*fields, "slug") if obj is not None else fields

    def save_model(self, request, obj, form, change):
        if change:
            return super().save_model(request, obj, form, change)
        data = {
            name: form.cleaned_data.get(name)
            for name in (
                "kind",
                "is_active",
                "contact_name",
                "contact_email",
                "contact_phone",
                "notes",
            )
        }
        partner = services.create_partner(
            form.cleaned_data["name"], slug=form.cleaned_data["slug"], **data
        )
        obj.pk, obj.user_id, obj.slug = partner.pk, partner.user_id, partner.slug
        obj.created_at, obj.updated_at = partner.created_at, partner.updated_at
        obj._state.adding = False


class PartnerKeyForm(forms.ModelForm):
    scopes = forms.MultipleChoiceField(
        choices=SCOPE_CHOICES, widget=forms.CheckboxSelectMultiple, help_text="What the key may do."
    )

    class Meta:
        model = PartnerKey
        fields = ("partner", "name", "scopes", "expires_at", "throttle_rate")

    def clean(self):
        cleaned = super().clean()
        try:
            cleaned["scopes"] = services.validate_scopes(cleaned.get("scopes"))
            cleaned["throttle_rate"] = services.validate_throttle_rate(cleaned.get("throttle_rate"))
        except AccountsError as exc:
            add_refusal_to_form(self, exc)
        expires_at = cleaned.get("expires_at")
        if self.instance.pk is None and expires_at is not None and expires_at <= timezone.now():
            self.add_error("expires_at", "The expiry date is in the past.")
        return cleaned


@admin.register(PartnerKey)
class PartnerKeyAdmin(CarshopModelAdmin):
    """Keys are issued here; the key is shown once, on the page right after saving."""

    form = PartnerKeyForm
    list_display = (
        "name",
        "partner",
        "prefix",
        "scopes_list",
        "expires_at",
        "revoked_at",
        "last_used_at",
    )
    list_filter = ("partner__kind", ("revoked_at", admin.EmptyFieldListFilter))
    list_select_related = ("partner",)
    search_fields = ("name", "prefix", "partner__name")
    autocomplete_fields = ("partner",)
    readonly_fields = ("prefix", "revoked_at", "last_used_at", "created_by", "created_at")
    actions = ("revoke_keys",)

    @admin.display(description="scopes")
    def scopes_list(self, key):
        return ", ".join(key.scopes)

    def get_readonly_fields(self, request, obj=None):
        fields = super().get_readonly_fields(request, obj)
        if obj is not None and obj.is_revoked:
            return (*fields, "partner", "name", "scopes", "expires_at", "throttle_rate")
        if obj is not None:
            return (*fields, "partner")
        return fields

    def has_delete_permission(self, request, obj=None):
        return False  # revoke instead: the key's history stays

    def save_model(self, request, obj, form, change):
        if change:
            return super().save_model(request, obj, form, change)
        key, plain = services.issue_key(
            form.cleaned_data["partner"],
            name=form.cleaned_data["name"],
            scopes=form.cleaned_data["scopes"],
            expires_at=form.cleaned_data.get("expires_at"),
            throttle_rate=form.cleaned_data.get("throttle_rate", ""),
            created_by=request.user,
        )
        obj.pk, obj.prefix, obj.hashed_key = key.pk, key.prefix, key.hashed_key
        obj.created_at, obj.created_by = key.created_at, key.created_by
        obj._state.adding = False
        # Shown on the response to this request only (response_add): never in a message, whose
        # storage is a cookie (or the session) that would carry the plaintext around.
        request._carshop_new_key = (key, plain)

    def response_add(self, request, obj, post_url_continue=None):
        issued = getattr(request, "_carshop_new_key", None)
        if issued is None:
            return super().response_add(request, obj, post_url_continue)
        key, plain = issued
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "key": key,
            "plain": plain,
            "title": "Key issued",
            "whole_shop": key.partner.reads_whole_shop(ACCOUNTING_READ)
            and key.has_scope(ACCOUNTING_READ),
        }
        response = TemplateResponse(request, "admin/accounts/partnerkey/issued.html", context)
        add_never_cache_headers(response)
        return response

    @admin.action(description="Revoke selected keys (cannot be undone)", permissions=["change"])
    def revoke_keys(self, request, queryset):
        count = 0
        for key in queryset.filter(revoked_at__isnull=True):
            services.revoke_key(key)
            count += 1
        self.message_user(request, f"{count} key(s) revoked.")


def _https_url_fields(db_field, **kwargs):
    """Form fields of the model's fields, a URL typed without a scheme meaning https. The admin
    subclasses the form (for read-only fields) without its own callback: this one is kept."""
    if isinstance(db_field, models.URLField):
        kwargs.setdefault("assume_scheme", "https")
    return db_field.formfield(**kwargs)


class WebhookSubscriptionForm(forms.ModelForm):
    url = forms.URLField(label="URL", max_length=500, assume_scheme="https")
    events = forms.MultipleChoiceField(
        choices=EVENT_CHOICES,
        widget=forms.CheckboxSelectMultiple,
        help_text="Sent only while the partner has a usable key with each event's scope.",
    )

    class Meta:
        model = WebhookSubscription
        fields = ("partner", "url", "events", "description", "is_active")
        formfield_callback = _https_url_fields

    def clean_url(self):
        url = self.cleaned_data["url"]
        try:
            webhooks.validate_target_url(url)
        except AccountsError as exc:
            raise forms.ValidationError(exc.message) from None
        return url

    def clean(self):
        cleaned = super().clean()
        partner, url = cleaned.get("partner"), cleaned.get("url")
        if self.instance.pk is None and partner and url:
            try:
                services.check_room_for_subscription(partner, url)
            except AccountsError as exc:
                self.add_error("url", exc.message)
        return cleaned


@admin.register(WebhookSubscription)
class WebhookSubscriptionAdmin(CarshopModelAdmin):
    """Subscriptions are added here; the signing secret is shown once, on the page right after
    saving, with the result of the verification handshake."""

    form = WebhookSubscriptionForm
    list_display = ("url", "partner", "events_list", "is_active", "verified_at", "created_at")
    list_filter = ("is_active", "partner__kind")
    list_select_related = ("partner",)
    search_fields = ("url", "partner__name")
    autocomplete_fields = ("partner",)
    readonly_fields = ("verified_at", "verification_error")
    actions = ["send_handshake"]

    def get_readonly_fields(self, request, obj=None):
        # A new URL must answer the handshake: subscribe it instead of editing this one.
        if obj is not None:
            return ("partner", "url", *self.readonly_fields)
        return self.readonly_fields

    @admin.action(description="Send the verification handshake again", permissions=["change"])
    def send_handshake(self, request, queryset):
        verified = failed = 0
        for subscription in queryset.select_related("partner"):
            if services.verify_subscription(subscription):
                verified += 1
            else:
                failed += 1
                self.message_user(
                    request,
                    f"{subscription.url}: {subscription.verification_error}",
                    messages.WARNING,
                )
        self.message_user(request, f"{verified} verified, {failed} not verified.")

    @admin.display(description="events")
    def events_list(self, subscription):
        return ", ".join(subscription.events)

    def delete_refusal(self, obj):
        return services.subscription_deletion_refusal(obj)

    def save_model(self, request, obj, form, change):
        if change:
            return super().save_model(request, obj, form, change)
        data = form.cleaned_data
        subscription = services.subscribe(
            data["partner"],
            url=data["url"],
            events=data["events"],
            description=data.get("description", ""),
            is_active=data.get("is_active", True),
        )
        obj.pk, obj.secret = subscription.pk, subscription.secret
        obj.created_at = subscription.created_at
        obj.verified_at = subscription.verified_at
        obj.verification_error = subscription.verification_error
        obj._state.adding = False
        # Shown on the response to this request only (response_add): never in a message, whose
        # storage is a cookie (or the session) that would carry the secret around.
        request._carshop_new_subscription = subscription

    def response_add(self, request, obj, post_url_continue=None):
        subscription = getattr(request, "_carshop_new_subscription", None)
        if subscription is None:
            return super().response_add(request, obj, post_url_continue)
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "subscription": subscription,
            "secret": subscription.secret,
            "title": "Subscription added",
        }
        response = TemplateResponse(
            request, "admin/accounts/webhooksubscription/created.html", context
        )
        add_never_cache_headers(response)
        return response


class ReadOnlyAdmin(ReadOnlyMixin, CarshopModelAdmin):
    """Written by the webhook machinery, read here."""


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(ReadOnlyAdmin):
    """The delivery log: every event sent to every subscription, with its attempts."""

    list_display = (
        "event_type",
        "partner",
        "url",
        "status",
        "attempts",
        "response_status",
        "last_attempt_at",
        "next_attempt_at",
        "delivered_at",
    )
    list_filter = ("status", "event__event_type")
    list_select_related = ("event", "subscription", "subscription__partner")
    search_fields = ("subscription__url", "subscription__partner__name", "=event__event_id")
    date_hierarchy = "created_at"

    @admin.display(description="event", ordering="event__event_type")
    def event_type(self, delivery):
        return delivery.event.event_type

    @admin.display(description="partner")
    def partner(self, delivery):
        return delivery.subscription.partner

    @admin.display(description="URL")
    def url(self, delivery):
        return delivery.subscription.url


@admin.register(WebhookEvent)
class WebhookEventAdmin(ReadOnlyAdmin):
    """The outbox: events as published, with what they carried."""

    list_display = ("event_type", "event_id", "scope", "customer", "partner", "created_at")
    list_filter = ("event_type",)
    list_select_related = ("customer", "partner")
    search_fields = ("=event_id",)
    date_hierarchy = "created_at"
