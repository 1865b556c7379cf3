"""People the business has accounts with: staff users, customers, and the shop's own settings."""

from decimal import Decimal

from django.contrib.auth.models import AbstractUser
from django.core.serializers.json import DjangoJSONEncoder
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models.functions import Lower

from accounts import signals
from accounts.scopes import ACCOUNTING_READ


class User(AbstractUser):
    """A member of staff (or an operations account). Roles are groups; see accounts/roles.py."""

    phone = models.CharField(max_length=32, blank=True)
    home_location = models.ForeignKey(
        "accounts.Location",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="home_users",
        help_text="Where this person works: their lists, searches and reports start there. "
        "Empty: the default location.",
    )
    locations = models.ManyToManyField(
        "accounts.Location",
        blank=True,
        related_name="allowed_users",
        verbose_name="other locations",
        help_text="Other locations this person may see and change besides their home location.",
    )

    class Meta(AbstractUser.Meta):
        ordering = ["username"]
        swappable = "AUTH_USER_MODEL"
        permissions = [("work_at_all_locations", "Can see and change every location of the group")]

    def __str__(self):
        return self.get_full_name() or self.username

    def save(self, *args, **kwargs):
        password_changed = self._password is not None
        super().save(*args, **kwargs)
        if password_changed:
            signals.password_changed.send(sender=type(self), user=self)


def phone_digits(*phones):
    """The digits of each phone number, space-separated: what a phone search is matched on, so
    "555-0142", "(217) 555 0142" and "2175550142" all find the same customer."""
    numbers = ("".join(char for char in phone or "" if char.isdigit()) for phone in phones)
    return " ".join(number for number in numbers if number)


# Characters a phone number is written with besides its digits.
_PHONE_PUNCTUATION = set("()+-./")


class CustomerQuerySet(models.QuerySet):
    def search(self, text):
        """Customers matching every word of `text`: by name (anywhere in it), email, or phone
        (its digits anywhere in either phone, however the number is written).

        On PostgreSQL each word's condition is answered by a trigram index (accounts migration
        0004), so a search reads the matching rows only, not the whole customer book.
        """
        queryset = self
        for word in (text or "").split():
            queryset = queryset.filter(self.word_condition(word))
        return queryset

    @staticmethod
    def word_condition(word):
        digits = "".join(char for char in word if char.isdigit())
        if len(digits) >= 3 and all(char.isdigit() or char in _PHONE_PUNCTUATION for char in word):
            return models.Q(phone_digits__contains=digits)
        if "@" in word:
            return models.Q(email__icontains=word)
        if len(word) < 3:
            # Too short for a trigram: the start of the name.
            return models.Q(display_name__istartswith=word)
        return models.Q(display_name__icontains=word) | models.Q(email__icontains=word)


class Customer(models.Model):
    """A person or company the shop repairs cars for or sells cars to: the shared customer book."""

    class Kind(models.TextChoices):
        PERSON = "person", "Person"
        COMPANY = "company", "Company"

    kind = models.CharField(max_length=10, choices=Kind.choices, default=Kind.PERSON)
    first_name = models.CharField(max_length=80, blank=True)
    last_name = models.CharField(max_length=80, blank=True)
    company_name = models.CharField(max_length=160, blank=True)
    # The name shown and searched: "Last, First" for people, the company name for companies.
    display_name = models.CharField(max_length=200, editable=False, db_index=True)
    phone = models.CharField("mobile phone", max_length=32, blank=True, db_index=True)
    phone_other = models.CharField("other phone", max_length=32, blank=True)
    # Digits of both phones, kept by save(): phone searches ignore spaces, dashes and brackets.
    phone_digits = models.CharField(max_length=80, blank=True, editable=False)
    email = models.EmailField(blank=True)
    address_line = models.CharField("street address", max_length=200, blank=True)
    city = models.CharField(max_length=100, blank=True)
    region = models.CharField("state / region", max_length=100, blank=True)
    postal_code = models.CharField(max_length=20, blank=True)
    tax_id = models.CharField(
        "tax id",
        max_length=40,
        blank=True,
        help_text="Companies: tax or VAT id printed on invoices.",
    )
    consent_reminders = models.BooleanField(
        "agrees to service reminders",
        default=False,
        help_text="Only customers who agreed are sent reminders.",
    )
    notes = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = CustomerQuerySet.as_manager()

    class Meta:
        ordering = ["display_name", "id"]
        indexes = [
            models.Index(Lower("email"), name="customer_email_lower_idx"),
            models.Index(fields=["updated_at"], name="customer_updated_idx"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=~models.Q(kind="company") | ~models.Q(company_name=""),
                name="customer_company_has_name",
                violation_error_message="A company needs a company name.",
            ),
            models.CheckConstraint(
                condition=~models.Q(kind="person") | ~models.Q(last_name="", first_name=""),
                name="customer_person_has_name",
                violation_error_message="A person needs a first or last name.",
            ),
        ]

    def __str__(self):
        return self.display_name

    def clean(self):
        from django.core.exceptions import ValidationError

        if self.kind == self.Kind.COMPANY and not self.company_name.strip():
            raise ValidationError({"company_name": "A company needs a company name."})
        has_name = self.first_name.strip() or self.last_name.strip()
        if self.kind == self.Kind.PERSON and not has_name:
            raise ValidationError({"last_name": "A person needs a first or last name."})

    def save(self, *args, **kwargs):
        self.display_name = self.compose_display_name()
        self.phone_digits = phone_digits(self.phone, self.phone_other)
        if kwargs.get("update_fields") is not None:
            kwargs["update_fields"] = {*kwargs["update_fields"], "display_name", "phone_digits"}
        super().save(*args, **kwargs)

    @property
    def postal_address(self):
        """The address as a document prints it, line by line: the street, then the city, state /
        region and postal code, whichever of them are known (none dropped for a missing city)."""
        region = " ".join(part for part in (self.region.strip(), self.postal_code.strip()) if part)
        place = ", ".join(part for part in (self.city.strip(), region) if part)
        return [line for line in (self.address_line.strip(), place) if line]

    def compose_display_name(self):
        if self.kind == self.Kind.COMPANY:
            return self.company_name.strip()
        first, last = self.first_name.strip(), self.last_name.strip()
        return f"{last}, {first}" if first and last else (last or first)

    @property
    def addressed_name(self) -> str:
        """The name a message to the customer greets: "Grace Hopper", where lists file them
        as "Hopper, Grace"; a company by its name."""
        if self.kind == self.Kind.COMPANY:
            return self.company_name.strip()
        return " ".join(part for part in (self.first_name.strip(), self.last_name.strip()) if part)


class Location(models.Model):
    """A service shop, a car lot, or both, of the group. Customers and vehicles are shared by the
    whole group; repair orders, appointments, time, invoices, parts stock and stock units belong
    to one location. Its document header, rates and fees are its ShopSettings row."""

    class Kind(models.TextChoices):
        SHOP = "shop", "service shop"
        LOT = "lot", "car lot"
        BOTH = "both", "shop and lot"

    code = models.SlugField(
        max_length=16,
        unique=True,
        help_text="Short name shown in lists and filters (letters, digits, dashes).",
    )
    name = models.CharField(max_length=120, unique=True)
    kind = models.CharField(max_length=8, choices=Kind.choices, default=Kind.BOTH)
    hours = models.TextField("opening hours", blank=True)
    is_active = models.BooleanField(
        "active", default=True, help_text="An inactive location takes no new work."
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(kind__in=["shop", "lot", "both"]),
                name="location_kind_valid",
                violation_error_message="A location is a shop, a lot or both.",
            ),
        ]

    def __str__(self):
        return self.name

    @property
    def is_shop(self) -> bool:
        return self.kind in (self.Kind.SHOP, self.Kind.BOTH)

    @property
    def is_lot(self) -> bool:
        return self.kind in (self.Kind.LOT, self.Kind.BOTH)

    @classmethod
    def default(cls) -> "Location":
        """The group's first location: where records made without a location go, and the home of
        staff who have none. A fresh install gets one, named after its settings."""
        location = cls.objects.order_by("pk").first()
        if location is None:
            location, _ = cls.objects.get_or_create(code="main", defaults={"name": "Main"})
        return location


def default_location_id() -> int:
    """The default location's id: where a repair order, appointment, invoice or counter made
    without a location goes (a single-shop install never chooses one)."""
    from accounts.locations import default_location_id as cached

    return cached()  # kept in the cache: a new row's default asks the database once an hour


class ShopSettings(models.Model):
    """One location's own details and the rates a manager sets for it, edited in the admin."""

    location = models.OneToOneField(Location, on_delete=models.PROTECT, related_name="settings")

    name = models.CharField(max_length=160, default="Carshop")
    address = models.TextField(blank=True)
    phone = models.CharField(max_length=32, blank=True)
    email = models.EmailField(blank=True)
    tax_id = models.CharField("tax id", max_length=40, blank=True)

    labor_rate = models.DecimalField(
        "labor rate per hour",
        max_digits=8,
        decimal_places=2,
        default=Decimal("120.00"),
        validators=[MinValueValidator(Decimal("0"))],
    )
    parts_tax_rate = models.DecimalField(
        "parts tax rate %",
        max_digits=5,
        decimal_places=3,
        default=Decimal("7.000"),
        validators=[MinValueValidator(Decimal("0")), MaxValueValidator(Decimal("100"))],
    )
    labor_tax_rate = models.DecimalField(
        "labor tax rate %",
        max_digits=5,
        decimal_places=3,
        default=Decimal("0.000"),
        validators=[MinValueValidator(Decimal("0")), MaxValueValidator(Decimal("100"))],
    )
    shop_supplies_rate = models.DecimalField(
        "shop supplies % of labor",
        max_digits=5,
        decimal_places=2,
        default=Decimal("5.00"),
        validators=[MinValueValidator(Decimal("0")), MaxValueValidator(Decimal("100"))],
    )
    shop_supplies_cap = models.DecimalField(
        "shop supplies cap",
        max_digits=8,
        decimal_places=2,
        default=Decimal("35.00"),
        validators=[MinValueValidator(Decimal("0"))],
    )
    technician_cost_rate = models.DecimalField(
        "technician cost per hour worked",
        max_digits=8,
        decimal_places=2,
        default=Decimal("0.00"),
        validators=[MinValueValidator(Decimal("0"))],
        help_text="What an hour of a technician's clocked time costs the shop (wages and "
        "charges): the labor cost of the reports' gross profit.",
    )
    hazardous_waste_fee = models.DecimalField(
        max_digits=8,
        decimal_places=2,
        default=Decimal("4.50"),
        validators=[MinValueValidator(Decimal("0"))],
    )
    sales_tax_rate = models.DecimalField(
        "vehicle sales tax rate %",
        max_digits=5,
        decimal_places=3,
        default=Decimal("6.250"),
        validators=[MinValueValidator(Decimal("0")), MaxValueValidator(Decimal("100"))],
    )
    trade_in_reduces_sales_tax = models.BooleanField(
        "trade-in allowance reduces taxable amount", default=True
    )
    documentation_fee = models.DecimalField(
        max_digits=8,
        decimal_places=2,
        default=Decimal("199.00"),
        validators=[MinValueValidator(Decimal("0"))],
    )
    registration_fee = models.DecimalField(
        "registration and title fee",
        max_digits=8,
        decimal_places=2,
        default=Decimal("85.00"),
        validators=[MinValueValidator(Decimal("0"))],
    )
    aging_threshold_days = models.PositiveIntegerField("stock aging threshold (days)", default=60)
    estimate_link_days = models.PositiveIntegerField(
        "estimate approval links expire after (days)", default=7
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = "shop settings"
        verbose_name_plural = "shop settings"
        # Who sees money at all (accounts.roles.sees_prices): technicians never do.
        permissions = [("view_prices", "Can see prices, rates, amounts and totals")]

    def __str__(self):
        return f"Settings of {self.name}"

    @classmethod
    def of(cls, location: Location | int | None = None) -> "ShopSettings":
        """The settings of `location` (a location or its id), made with the defaults the first
        time; of the default location when none is given."""
        if isinstance(location, Location):
            location_id = location.pk
        else:
            location_id = location or default_location_id()
            location = None
        settings = cls.objects.filter(location_id=location_id).first()
        if settings is None:
            location = location or Location.objects.get(pk=location_id)
            settings, _ = cls.objects.get_or_create(
                location=location, defaults={"name": location.name}
            )
        return settings

    @classmethod
    def current(cls) -> "ShopSettings":
        """The default location's settings: for what is not yet tied to a location."""
        return cls.of()


# ---------------------------------------------------------------------------------------------
# Partners of the REST API: who they are, their keys, their webhook subscriptions and deliveries.
# Business rules (creating a partner with its service user, issuing and revoking keys, publishing
# events) live in accounts/services.py and accounts/webhooks.py.
# ---------------------------------------------------------------------------------------------


class Partner(models.Model):
    """A company that integrates through the API: a marketplace, a fleet or insurer, an accounting
    system. Changes made through its keys are credited to its inactive service user."""

    class Kind(models.TextChoices):
        MARKETPLACE = "marketplace", "Marketplace"
        FLEET = "fleet", "Fleet or insurance"
        ACCOUNTING = "accounting", "Accounting system"
        OTHER = "other", "Other"

    name = models.CharField(max_length=120)
    slug = models.SlugField(
        max_length=60, unique=True, help_text="Short name; the service user is partner:<slug>."
    )
    kind = models.CharField(max_length=12, choices=Kind.choices, default=Kind.OTHER)
    is_active = models.BooleanField(
        "active",
        default=True,
        help_text="An inactive partner's keys stop working and it receives no webhooks.",
    )
    locations = models.ManyToManyField(
        Location,
        blank=True,
        related_name="partners",
        help_text="The locations whose records this partner sees and changes through the API.",
    )
    customers = models.ManyToManyField(
        Customer,
        blank=True,
        related_name="partners",
        verbose_name="linked customer accounts",
        help_text="Fleet and insurance partners see repair orders of these customers' vehicles.",
    )
    contact_name = models.CharField(max_length=120, blank=True)
    contact_email = models.EmailField(blank=True)
    contact_phone = models.CharField(max_length=32, blank=True)
    notes = models.TextField(blank=True)
    user = models.OneToOneField(
        User,
        on_delete=models.PROTECT,
        related_name="partner",
        editable=False,
        help_text="Inactive account the audit log credits this partner's changes to.",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    # Scopes whose rows are the whole shop's for partners of these kinds. Any other partner
    # reads only the rows of the customer accounts linked to it: a fleet with accounting:read
    # reads its own invoices, never another customer's money. A partner's kind is set in the
    # admin by a manager (the only role that may change partners).
    WHOLE_SHOP_KINDS = {ACCOUNTING_READ: {Kind.ACCOUNTING}}

    class Meta:
        ordering = ["name", "id"]
        indexes = [models.Index(fields=["kind", "is_active"], name="partner_kind_active_idx")]

    def __str__(self):
        return self.name

    def reads_whole_shop(self, scope):
        """Whether this partner's keys with `scope` read every customer's rows (an accounting
        system keeping the shop's books), rather than its linked customers' only."""
        return self.kind in self.WHOLE_SHOP_KINDS.get(scope, ())

    @classmethod
    def kinds_reading_whole_shop(cls, scope):
        return sorted(cls.WHOLE_SHOP_KINDS.get(scope, ()))


class PartnerKeyQuerySet(models.QuerySet):
    def usable(self, now=None):
        """Keys that authenticate now: not revoked, not expired, of an active partner."""
        from django.utils import timezone

        now = now or timezone.now()
        return self.filter(revoked_at__isnull=True, partner__is_active=True).filter(
            models.Q(expires_at__isnull=True) | models.Q(expires_at__gt=now)
        )


class PartnerKey(models.Model):
    """An API key of a partner. The key itself is shown once when issued; only its prefix (to find
    it) and a SHA-512 hash (to check it) are stored."""

    partner = models.ForeignKey(Partner, on_delete=models.PROTECT, related_name="keys")
    name = models.CharField(max_length=80, help_text="What the key is for, e.g. 'nightly sync'.")
    prefix = models.CharField(max_length=16, unique=True, editable=False)
    hashed_key = models.CharField(max_length=160, editable=False)
    scopes = models.JSONField(
        default=list, help_text="What the key may do; see accounts/scopes.py."
    )
    expires_at = models.DateTimeField(
        "expires", null=True, blank=True, help_text="Empty: never expires."
    )
    revoked_at = models.DateTimeField(null=True, blank=True, editable=False)
    throttle_rate = models.CharField(
        max_length=20,
        blank=True,
        help_text="Requests allowed, e.g. 600/min or 10/sec. "
        "Empty: the default (API_KEY_THROTTLE_RATE).",
    )
    last_used_at = models.DateTimeField(null=True, blank=True, editable=False)
    created_by = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.SET_NULL, related_name="+", editable=False
    )
    created_at = models.DateTimeField(auto_now_add=True)

    objects = PartnerKeyQuerySet.as_manager()

    class Meta:
        ordering = ["partner_id", "-created_at", "-id"]
        verbose_name = "partner API key"
        indexes = [models.Index(fields=["partner", "revoked_at"], name="partnerkey_partner_idx")]

    def __str__(self):
        return f"{self.name} ({self.prefix}…)"

    @property
    def is_revoked(self):
        return self.revoked_at is not None

    def has_expired(self, now=None):
        from django.utils import timezone

        return self.expires_at is not None and self.expires_at <= (now or timezone.now())

    def has_scope(self, scope):
        return scope in self.scopes

    def is_usable(self, now=None):
        """PartnerKey.objects.usable() for this key: not revoked, not expired, of an active
        partner."""
        return self.revoked_at is None and not self.has_expired(now) and self.partner.is_active


class WebhookSubscription(models.Model):
    """A partner's URL that receives the events it chose, signed with the subscription's secret."""

    partner = models.ForeignKey(Partner, on_delete=models.CASCADE, related_name="subscriptions")
    url = models.URLField("URL", max_length=500)
    events = models.JSONField(default=list, help_text="Event types sent to this URL.")
    # The receiver checks signatures with it, so it is kept as is (a hash could not sign); it is
    # shown once when the subscription is created and masked in the audit log.
    secret = models.CharField(max_length=80, editable=False)
    is_active = models.BooleanField("active", default=True)
    description = models.CharField(max_length=200, blank=True)
    # The URL proved it wants the events by echoing a signed challenge (accounts.webhooks
    # .verify_subscription); until then it receives nothing.
    verified_at = models.DateTimeField(null=True, blank=True, editable=False)
    verification_error = models.CharField(max_length=500, blank=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["partner_id", "id"]
        indexes = [models.Index(fields=["partner", "is_active"], name="webhooksub_partner_idx")]
        constraints = [
            models.UniqueConstraint(
                fields=["partner", "url"],
                name="webhooksub_one_per_partner_url",
                violation_error_message="This partner already has a subscription for this URL.",
            ),
        ]

    def __str__(self):
        return f"{self.partner}: {self.url}"


class WebhookEvent(models.Model):
    """The outbox: one row per event, written in the same transaction as the change it reports.
    `scope`, `customer` and `partner` say who may receive it."""

    event_id = models.UUIDField(unique=True, editable=False)
    event_type = models.CharField(max_length=40, db_index=True)
    payload = models.JSONField(encoder=DjangoJSONEncoder)
    scope = models.CharField(max_length=40)
    customer = models.ForeignKey(
        Customer,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        help_text="When set, only partners linked to this customer receive the event.",
    )
    partner = models.ForeignKey(
        Partner,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        help_text="When set, only this partner receives the event (e.g. a lead it posted).",
    )
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self):
        return f"{self.event_type} {self.event_id}"


class WebhookDelivery(models.Model):
    """One event sent to one subscription: attempts, the last response or error, the next retry."""

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        SENDING = "sending", "Sending"
        DELIVERED = "delivered", "Delivered"
        FAILED = "failed", "Failed (gave up)"

    event = models.ForeignKey(WebhookEvent, on_delete=models.CASCADE, related_name="deliveries")
    subscription = models.ForeignKey(
        WebhookSubscription, on_delete=models.CASCADE, related_name="deliveries"
    )
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    last_attempt_at = models.DateTimeField(null=True, blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)
    response_status = models.PositiveSmallIntegerField("last status code", null=True, blank=True)
    error = models.TextField("last error", blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name_plural = "webhook deliveries"
        indexes = [
            models.Index(fields=["status", "next_attempt_at"], name="webhookdelivery_due_idx"),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["event", "subscription"],
                name="webhookdelivery_once_per_subscription",
                violation_error_message="An event is delivered once to each subscription.",
            ),
        ]

    def __str__(self):
        return f"{self.event.event_type} → {self.subscription.url}"


class IdempotentRequest(models.Model):
    """A partner's write sent with an `Idempotency-Key` header, and the answer it got: the same
    key sent again returns that answer instead of writing twice (a retried lead post creates one
    lead). Kept for a day."""

    partner = models.ForeignKey(Partner, on_delete=models.CASCADE, related_name="+")
    key = models.CharField(max_length=255)
    fingerprint = models.CharField(max_length=64, help_text="SHA-256 of method, path and body.")
    response_status = models.PositiveSmallIntegerField(null=True, blank=True)
    response_body = models.JSONField(null=True, blank=True, encoder=DjangoJSONEncoder)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["partner", "key"],
                name="idempotentrequest_once",
                violation_error_message="This Idempotency-Key was used.",
            ),
        ]

    def __str__(self):
        return f"{self.partner_id}: {self.key}"
