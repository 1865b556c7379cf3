"""People the business has accounts with: staff users, customers, and the shop's own settings."""

from decimal import Decimal

from django.contrib.auth.models import AbstractUser
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models.functions import Lower

from accounts import signals


class User(AbstractUser):
    """A member of staff (or an operations account). Roles are groups; see accounts/roles.py."""

    phone = models.CharField(max_length=32, blank=True)

    class Meta(AbstractUser.Meta):
        ordering = ["username"]
        swappable = "AUTH_USER_MODEL"

    def __str__(self):
        return self.get_full_name() or self.username

    def save(self, *args, **kwargs):
        password_changed = self._password is not None
        super().save(*args, **kwargs)
        if password_changed:
            signals.password_changed.send(sender=type(self), user=self)


class CustomerQuerySet(models.QuerySet):
    def people(self):
        return self.filter(kind=Customer.Kind.PERSON)

    def companies(self):
        return self.filter(kind=Customer.Kind.COMPANY)

    def reachable_for_reminders(self):
        return self.filter(consent_reminders=True).exclude(email="", phone="")


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
    email = models.EmailField(blank=True)
    address_line = models.CharField("street address", max_length=200, blank=True)
    city = models.CharField(max_length=100, blank=True)
    region = models.CharField("state / region", max_length=100, blank=True)
    postal_code = models.CharField(max_length=20, blank=True)
    tax_id = models.CharField("tax id", max_length=40, blank=True,
                              help_text="Companies: tax or VAT id printed on invoices.")
    consent_reminders = models.BooleanField(
        "agrees to service reminders", default=False,
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
        if kwargs.get("update_fields") is not None:
            kwargs["update_fields"] = {*kwargs["update_fields"], "display_name"}
        super().save(*args, **kwargs)

    def compose_display_name(self):
        if self.kind == self.Kind.COMPANY:
            return self.company_name.strip()
        first, last = self.first_name.strip(), self.last_name.strip()
        return f"{last}, {first}" if first and last else (last or first)


class ShopSettings(models.Model):
    """The business's own details and the rates a manager sets: one row, edited in the admin."""

    name = models.CharField(max_length=160, default="Carshop")
    address = models.TextField(blank=True)
    phone = models.CharField(max_length=32, blank=True)
    email = models.EmailField(blank=True)
    tax_id = models.CharField("tax id", max_length=40, blank=True)

    labor_rate = models.DecimalField("labor rate per hour", max_digits=8, decimal_places=2,
                                     default=Decimal("120.00"),
                                     validators=[MinValueValidator(Decimal("0"))])
    parts_tax_rate = models.DecimalField(
        "parts tax rate %", max_digits=5, decimal_places=3, default=Decimal("7.000"),
        validators=[MinValueValidator(Decimal("0")), MaxValueValidator(Decimal("100"))])
    labor_tax_rate = models.DecimalField(
        "labor tax rate %", max_digits=5, decimal_places=3, default=Decimal("0.000"),
        validators=[MinValueValidator(Decimal("0")), MaxValueValidator(Decimal("100"))])
    shop_supplies_rate = models.DecimalField(
        "shop supplies % of labor", max_digits=5, decimal_places=2, default=Decimal("5.00"),
        validators=[MinValueValidator(Decimal("0")), MaxValueValidator(Decimal("100"))])
    shop_supplies_cap = models.DecimalField(
        "shop supplies cap", max_digits=8, decimal_places=2, default=Decimal("35.00"),
        validators=[MinValueValidator(Decimal("0"))])
    hazardous_waste_fee = models.DecimalField(max_digits=8, decimal_places=2,
                                              default=Decimal("4.50"),
                                              validators=[MinValueValidator(Decimal("0"))])
    sales_tax_rate = models.DecimalField(
        "vehicle sales tax rate %", max_digits=5, decimal_places=3, default=Decimal("6.250"),
        validators=[MinValueValidator(Decimal("0")), MaxValueValidator(Decimal("100"))])
    trade_in_reduces_sales_tax = models.BooleanField(
        "trade-in allowance reduces taxable amount", default=True)
    documentation_fee = models.DecimalField(max_digits=8, decimal_places=2,
                                            default=Decimal("199.00"),
                                            validators=[MinValueValidator(Decimal("0"))])
    registration_fee = models.DecimalField("registration and title fee", max_digits=8,
                                           decimal_places=2, default=Decimal("85.00"),
                                           validators=[MinValueValidator(Decimal("0"))])
    aging_threshold_days = models.PositiveIntegerField(
        "stock aging threshold (days)", default=60)
    estimate_link_days = models.PositiveIntegerField(
        "estimate approval links expire after (days)", default=7)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = "shop settings"
        verbose_name_plural = "shop settings"
        constraints = [
            models.CheckConstraint(condition=models.Q(id=1), name="shop_settings_single_row",
                                   violation_error_message="There is only one shop settings row."),
        ]

    def __str__(self):
        return f"Settings of {self.name}"

    def save(self, *args, **kwargs):
        self.pk = 1
        super().save(*args, **kwargs)

    @classmethod
    def current(cls):
        settings, _ = cls.objects.get_or_create(pk=1)
        return settings
