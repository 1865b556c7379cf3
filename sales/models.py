"""The car lot's sales: leads, deals with trade-ins, add-ons, financing and payments, commissions.

A deal goes draft -> signed -> delivered, can be canceled from draft or signed, and unwound after
delivery; sales.services makes every move. The figures a deal is signed on (tax, totals, payment)
and delivered on (unit cost, gross) are stored on it then, so lists and reports read them without
recomputing; the live arithmetic is in sales.calculations.
"""

from decimal import Decimal
from typing import Any

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import ExpressionWrapper, F, Q, Value
from django.db.models.functions import Coalesce

from accounts.limits import (
    MAX_DEAL_CHARGE,
    MAX_ODOMETER,
    MAX_VEHICLE_AMOUNT,
    at_most,
    bounded,
)
from accounts.models import Customer
from core.money import ZERO
from inventory.models import StockUnit, Vehicle

MONEY: dict[str, Any] = {"max_digits": 12, "decimal_places": 2}
NOT_NEGATIVE = [MinValueValidator(Decimal("0"))]
# Money about the vehicle (prices, trade-ins, payments) and the smaller charges around it.
VEHICLE_AMOUNT = [*NOT_NEGATIVE, at_most(MAX_VEHICLE_AMOUNT, "for a vehicle")]
CHARGE = [*NOT_NEGATIVE, at_most(MAX_DEAL_CHARGE, "per fee or add-on")]


class Lead(models.Model):
    """Someone interested in buying: where they came from, what they want, who follows up when."""

    class Source(models.TextChoices):
        WALK_IN = "walk_in", "Walk-in"
        PHONE = "phone", "Phone"
        WEBSITE = "website", "Website"
        MARKETPLACE = "marketplace", "Partner marketplace"

    class Status(models.TextChoices):
        NEW = "new", "New"
        CONTACTED = "contacted", "Contacted"
        APPOINTMENT = "appointment", "Appointment set"
        NEGOTIATING = "negotiating", "Negotiating"
        WON = "won", "Won (deal delivered)"
        LOST = "lost", "Lost"

    OPEN = (Status.NEW, Status.CONTACTED, Status.APPOINTMENT, Status.NEGOTIATING)

    customer = models.ForeignKey(Customer, on_delete=models.PROTECT, related_name="leads")
    source = models.CharField(max_length=12, choices=Source.choices)
    source_reference = models.CharField(
        max_length=80, blank=True, help_text="The marketplace's or website's lead id."
    )
    stock_unit = models.ForeignKey(
        StockUnit,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="leads",
        verbose_name="stock unit of interest",
    )
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.NEW)
    salesperson = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="leads",
        verbose_name="assigned salesperson",
    )
    next_follow_up = models.DateField(null=True, blank=True, db_index=True)
    lost_reason = models.CharField(max_length=200, blank=True)
    notes = models.TextField(blank=True)
    partner = models.ForeignKey(
        "accounts.Partner",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="leads",
        editable=False,
        help_text="The marketplace that posted the lead through the API; it follows the lead "
        "and is told when its status changes.",
    )
    message = models.TextField(
        blank=True, editable=False, help_text="What the buyer wrote on the marketplace."
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["partner", "id"], name="lead_partner_idx"),
            models.Index(fields=["status", "next_follow_up"], name="lead_status_followup_idx"),
            models.Index(fields=["salesperson", "status"], name="lead_salesperson_idx"),
            models.Index(fields=["created_at"], name="lead_created_idx"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=~Q(status="lost") | ~Q(lost_reason=""),
                name="lead_lost_has_reason",
                violation_error_message="Say why the lead was lost.",
            ),
        ]

    def __str__(self):
        return f"Lead {self.pk}: {self.customer}"


class Deal(models.Model):
    """The sale of one stock unit to a buyer through a salesperson; the buyer's order."""

    class Status(models.TextChoices):
        DRAFT = "draft", "Draft"
        SIGNED = "signed", "Signed"
        DELIVERED = "delivered", "Delivered"
        CANCELED = "canceled", "Canceled"
        UNWOUND = "unwound", "Unwound"

    # A unit is in at most one of these at a time: a signed deal holds it, a delivered one sold it.
    LIVE = (Status.SIGNED, Status.DELIVERED)

    stock_unit = models.ForeignKey(StockUnit, on_delete=models.PROTECT, related_name="deals")
    buyer = models.ForeignKey(Customer, on_delete=models.PROTECT, related_name="deals")
    co_buyer = models.ForeignKey(
        Customer, null=True, blank=True, on_delete=models.PROTECT, related_name="co_bought_deals"
    )
    salesperson = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="deals"
    )
    lead = models.ForeignKey(
        Lead, null=True, blank=True, on_delete=models.SET_NULL, related_name="deals"
    )
    status = models.CharField(
        max_length=10, choices=Status.choices, default=Status.DRAFT, editable=False
    )

    sale_price = models.DecimalField(**MONEY, validators=VEHICLE_AMOUNT)
    documentation_fee = models.DecimalField(**MONEY, validators=CHARGE)
    registration_fee = models.DecimalField("registration and title fee", **MONEY, validators=CHARGE)
    # The shop's tax rules when the deal was written up (ShopSettings may change later).
    sales_tax_rate = models.DecimalField(
        "sales tax rate %", max_digits=5, decimal_places=3, editable=False
    )
    trade_in_reduces_tax = models.BooleanField(editable=False)
    down_payment = models.DecimalField(
        **MONEY,
        default=ZERO,
        validators=VEHICLE_AMOUNT,
        help_text="At most what the buyer owes: the total less the trade-in equity.",
    )

    lender = models.CharField(max_length=120, blank=True, help_text="Leave empty for a cash deal.")
    apr = models.DecimalField(
        "APR %",
        max_digits=6,
        decimal_places=3,
        null=True,
        blank=True,
        validators=[MinValueValidator(Decimal("0")), MaxValueValidator(Decimal("99"))],
    )
    term_months = models.PositiveSmallIntegerField(
        "term (months)",
        null=True,
        blank=True,
        validators=[MinValueValidator(1), MaxValueValidator(120)],
    )
    finance_reserve = models.DecimalField(
        **MONEY,
        default=ZERO,
        validators=CHARGE,
        help_text="What the lender pays the business for arranging the loan.",
    )

    # Frozen when signed (the figures on the buyer's order the buyer signed).
    sales_tax = models.DecimalField(**MONEY, null=True, blank=True, editable=False)
    total_price = models.DecimalField(**MONEY, null=True, blank=True, editable=False)
    amount_financed = models.DecimalField(**MONEY, null=True, blank=True, editable=False)
    monthly_payment = models.DecimalField(**MONEY, null=True, blank=True, editable=False)
    # Frozen when delivered (what the commission was paid on).
    unit_cost = models.DecimalField(**MONEY, null=True, blank=True, editable=False)
    front_gross = models.DecimalField(**MONEY, null=True, blank=True, editable=False)
    back_gross = models.DecimalField(**MONEY, null=True, blank=True, editable=False)

    signed_at = models.DateTimeField(null=True, blank=True, editable=False)
    delivered_at = models.DateTimeField(null=True, blank=True, editable=False)
    closed_at = models.DateTimeField(
        "canceled or unwound at", null=True, blank=True, editable=False
    )
    close_reason = models.CharField(
        "why canceled or unwound", max_length=300, blank=True, editable=False
    )
    notes = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        permissions = [("unwind_deal", "Can unwind a delivered deal")]
        indexes = [
            models.Index(fields=["status", "-created_at"], name="deal_status_created_idx"),
            # The deal list's order: its first page is read from the index, not sorted.
            models.Index(fields=["-created_at", "-id"], name="deal_created_idx"),
            models.Index(fields=["salesperson", "status"], name="deal_salesperson_idx"),
            models.Index(fields=["delivered_at"], name="deal_delivered_idx"),
            models.Index(fields=["signed_at"], name="deal_signed_idx"),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["stock_unit"],
                condition=Q(status__in=["signed", "delivered"]),
                name="deal_one_live_deal_per_unit",
                violation_error_message="This stock unit is already in a signed or delivered deal.",
            ),
            models.CheckConstraint(
                condition=Q(co_buyer__isnull=True) | ~Q(co_buyer=models.F("buyer")),
                name="deal_co_buyer_not_buyer",
                violation_error_message="The co-buyer cannot be the buyer.",
            ),
            models.CheckConstraint(
                condition=Q(
                    sale_price__gte=0,
                    documentation_fee__gte=0,
                    registration_fee__gte=0,
                    down_payment__gte=0,
                    finance_reserve__gte=0,
                ),
                name="deal_amounts_not_negative",
                violation_error_message="Prices, fees and payments cannot be negative.",
            ),
            bounded(
                "sale_price",
                "down_payment",
                limit=MAX_VEHICLE_AMOUNT,
                name="deal_vehicle_amounts_bounded",
                what="for a vehicle",
            ),
            bounded(
                "documentation_fee",
                "registration_fee",
                "finance_reserve",
                limit=MAX_DEAL_CHARGE,
                name="deal_charges_bounded",
                what="per fee or add-on",
            ),
            models.CheckConstraint(
                condition=~Q(status__in=["signed", "delivered", "unwound"])
                | Q(signed_at__isnull=False, total_price__isnull=False),
                name="deal_signed_has_figures",
                violation_error_message="A signed deal keeps the figures it was signed on.",
            ),
            models.CheckConstraint(
                condition=~Q(status__in=["delivered", "unwound"])
                | Q(delivered_at__isnull=False, front_gross__isnull=False),
                name="deal_delivered_has_gross",
                violation_error_message="A delivered deal keeps its gross.",
            ),
        ]

    def __str__(self):
        return self.number

    @property
    def number(self):
        return f"D-{self.pk:05d}" if self.pk else "new deal"

    @property
    def is_draft(self):
        return self.status == self.Status.DRAFT

    @property
    def is_financed(self):
        return bool(self.lender.strip())

    @property
    def total_gross(self):
        if self.front_gross is None or self.back_gross is None:
            return None
        return self.front_gross + self.back_gross

    def clean(self):
        from django.core.exceptions import ValidationError

        errors = {}
        if self.co_buyer_id and self.co_buyer_id == self.buyer_id:
            errors["co_buyer"] = "The co-buyer cannot be the buyer."
        if self.lender.strip():
            if self.apr is None:
                errors["apr"] = "A financed deal needs the APR."
            if not self.term_months:
                errors["term_months"] = "A financed deal needs the term."
        if errors:
            raise ValidationError(errors)


# A delivered deal's gross as query expressions, for figures over many deals. Front and back gross
# are worked out once, by sales.calculations.deal_figures, and frozen on the deal when it is
# delivered (deliver_deal); the total is their sum, as Deal.total_gross says for one deal.
FRONT_GROSS = F("front_gross")
BACK_GROSS = F("back_gross")
TOTAL_GROSS = ExpressionWrapper(FRONT_GROSS + BACK_GROSS, output_field=models.DecimalField(**MONEY))


class TradeIn(models.Model):
    """A vehicle the buyer trades in: what the deal allows for it, what is still owed on it, and
    what it is really worth (actual cash value, the cost it enters stock at on delivery)."""

    deal = models.ForeignKey(Deal, on_delete=models.CASCADE, related_name="trade_ins")
    vehicle = models.ForeignKey(Vehicle, on_delete=models.PROTECT, related_name="trade_ins")
    allowance = models.DecimalField(
        **MONEY, validators=VEHICLE_AMOUNT, help_text="What the deal credits the buyer for it."
    )
    payoff = models.DecimalField(
        **MONEY,
        default=ZERO,
        validators=VEHICLE_AMOUNT,
        help_text="Still owed to the buyer's lender; the business pays it off.",
    )
    payoff_lender = models.CharField(max_length=120, blank=True)
    actual_cash_value = models.DecimalField(
        "actual cash value",
        **MONEY,
        validators=VEHICLE_AMOUNT,
        help_text="What it is really worth; it enters stock at this cost.",
    )
    odometer = models.PositiveIntegerField(
        null=True, blank=True, validators=[at_most(MAX_ODOMETER, "on an odometer")]
    )
    # Set on delivery: the stock unit it became and whose it was (given back on an unwind).
    stock_unit = models.OneToOneField(
        StockUnit,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="trade_in",
        editable=False,
    )
    previous_owner = models.ForeignKey(
        Customer, null=True, blank=True, on_delete=models.PROTECT, related_name="+", editable=False
    )

    class Meta:
        ordering = ["deal", "id"]
        verbose_name = "trade-in"
        constraints = [
            models.UniqueConstraint(
                fields=["deal", "vehicle"],
                name="tradein_vehicle_once",
                violation_error_message="This vehicle is already traded in on this deal.",
            ),
            models.CheckConstraint(
                condition=Q(allowance__gte=0, payoff__gte=0, actual_cash_value__gte=0),
                name="tradein_amounts_not_negative",
                violation_error_message="Trade-in amounts cannot be negative.",
            ),
            bounded(
                "allowance",
                "payoff",
                "actual_cash_value",
                limit=MAX_VEHICLE_AMOUNT,
                name="tradein_amounts_bounded",
                what="for a vehicle",
            ),
            bounded(
                "odometer",
                limit=MAX_ODOMETER,
                name="tradein_odometer_bounded",
                what="on an odometer",
                nullable=True,
            ),
        ]

    def __str__(self):
        return f"Trade-in {self.vehicle}"

    @property
    def equity(self):
        """Allowance minus payoff; negative when the buyer owes more than the car is allowed."""
        return self.allowance - self.payoff

    @property
    def over_allowance(self):
        """What the deal gives for the car beyond its worth (negative: under-allowance)."""
        return self.allowance - self.actual_cash_value


class DealAddon(models.Model):
    """Something sold with the car: a service contract, GAP, a maintenance plan, accessories."""

    class Kind(models.TextChoices):
        SERVICE_CONTRACT = "service_contract", "Service contract"
        GAP = "gap", "GAP insurance"
        MAINTENANCE = "maintenance", "Maintenance plan"
        ACCESSORY = "accessory", "Accessory"
        OTHER = "other", "Other"

    deal = models.ForeignKey(Deal, on_delete=models.CASCADE, related_name="addons")
    kind = models.CharField(max_length=20, choices=Kind.choices)
    description = models.CharField(max_length=200, blank=True)
    price = models.DecimalField(**MONEY, validators=CHARGE)
    cost = models.DecimalField(**MONEY, default=ZERO, validators=CHARGE)
    taxable = models.BooleanField(
        default=False, help_text="Accessories usually are; contracts usually not."
    )

    class Meta:
        ordering = ["deal", "id"]
        verbose_name = "add-on"
        constraints = [
            models.CheckConstraint(
                condition=Q(price__gte=0, cost__gte=0),
                name="dealaddon_amounts_not_negative",
                violation_error_message="Add-on amounts cannot be negative.",
            ),
            bounded(
                "price",
                "cost",
                limit=MAX_DEAL_CHARGE,
                name="dealaddon_amounts_bounded",
                what="per fee or add-on",
            ),
        ]

    def __str__(self):
        return self.description or self.get_kind_display()

    @property
    def profit(self):
        return self.price - self.cost


class DealPayment(models.Model):
    """Money received from the buyer on a deal (down payment, deposit, balance)."""

    class Method(models.TextChoices):
        CASH = "cash", "Cash"
        CHECK = "check", "Check"
        CARD = "card", "Card"
        TRANSFER = "transfer", "Bank transfer"

    deal = models.ForeignKey(Deal, on_delete=models.PROTECT, related_name="payments")
    amount = models.DecimalField(
        **MONEY,
        validators=[
            MinValueValidator(Decimal("0.01")),
            at_most(MAX_VEHICLE_AMOUNT, "for a vehicle"),
        ],
    )
    method = models.CharField(max_length=10, choices=Method.choices)
    reference = models.CharField(max_length=80, blank=True)
    received_at = models.DateTimeField()
    received_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        editable=False,
    )

    class Meta:
        ordering = ["deal", "received_at", "id"]
        verbose_name = "payment received"
        verbose_name_plural = "payments received"
        constraints = [
            models.CheckConstraint(
                condition=Q(amount__gt=0),
                name="dealpayment_positive",
                violation_error_message="A payment is more than zero.",
            ),
            bounded(
                "amount", limit=MAX_VEHICLE_AMOUNT, name="dealpayment_bounded", what="for a vehicle"
            ),
        ]

    def __str__(self):
        return f"{self.amount} {self.get_method_display()}"


class DealRefund(models.Model):
    """Money given back to the buyer after the deal fell through (canceled or unwound): never more,
    in all, than the deal's payments received."""

    deal = models.ForeignKey(Deal, on_delete=models.PROTECT, related_name="refunds")
    amount = models.DecimalField(
        **MONEY,
        validators=[
            MinValueValidator(Decimal("0.01")),
            at_most(MAX_VEHICLE_AMOUNT, "for a vehicle"),
        ],
    )
    method = models.CharField(max_length=10, choices=DealPayment.Method.choices)
    reference = models.CharField(max_length=80, blank=True)
    refunded_at = models.DateTimeField()
    refunded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        editable=False,
    )

    class Meta:
        ordering = ["deal", "refunded_at", "id"]
        verbose_name = "refund"
        constraints = [
            models.CheckConstraint(
                condition=Q(amount__gt=0),
                name="dealrefund_positive",
                violation_error_message="A refund is more than zero.",
            ),
            bounded(
                "amount", limit=MAX_VEHICLE_AMOUNT, name="dealrefund_bounded", what="for a vehicle"
            ),
        ]

    def __str__(self):
        return f"{self.amount} {self.get_method_display()} refunded"


class CommissionPlan(models.Model):
    """How a salesperson is paid on a deal: a percentage of its gross, with a minimum.

    A plan names one salesperson; the plan without a salesperson is the house plan for everyone
    who has none of their own.
    """

    class Basis(models.TextChoices):
        FRONT = "front", "Front gross"
        TOTAL = "total", "Total gross (front + back)"

    name = models.CharField(max_length=80)
    salesperson = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="commission_plans",
        help_text="Empty: the house plan.",
    )
    basis = models.CharField(max_length=6, choices=Basis.choices, default=Basis.TOTAL)
    rate = models.DecimalField(
        "percent of gross",
        max_digits=5,
        decimal_places=2,
        validators=[MinValueValidator(Decimal("0")), MaxValueValidator(Decimal("100"))],
    )
    minimum = models.DecimalField(
        "minimum per deal",
        **MONEY,
        default=ZERO,
        validators=[*NOT_NEGATIVE, at_most(MAX_DEAL_CHARGE, "as a minimum")],
    )

    class Meta:
        ordering = ["name", "id"]
        constraints = [
            # One plan per salesperson, and one house plan (no salesperson: counted as 0).
            models.UniqueConstraint(
                Coalesce("salesperson", Value(0)),
                name="commissionplan_one_per_salesperson",
                violation_error_message="This salesperson already has a plan "
                "(or there is a house plan "
                "already).",
            ),
            models.CheckConstraint(
                condition=Q(rate__gte=0, rate__lte=100, minimum__gte=0),
                name="commissionplan_sane_numbers",
                violation_error_message="A rate is 0 to 100 %; a minimum is not negative.",
            ),
            bounded(
                "minimum",
                limit=MAX_DEAL_CHARGE,
                name="commissionplan_minimum_bounded",
                what="as a minimum",
            ),
        ]

    def __str__(self):
        return self.name


class Commission(models.Model):
    """A salesperson's commission on a delivered deal, or its chargeback when the deal is
    unwound. Rows are never edited: an unwind adds a chargeback of the same amount."""

    class Kind(models.TextChoices):
        EARNED = "earned", "Earned"
        CHARGEBACK = "chargeback", "Chargeback (deal unwound)"

    deal = models.ForeignKey(Deal, on_delete=models.PROTECT, related_name="commissions")
    salesperson = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="commissions"
    )
    kind = models.CharField(max_length=10, choices=Kind.choices, default=Kind.EARNED)
    plan_name = models.CharField(max_length=80)
    gross = models.DecimalField("gross it was paid on", **MONEY)
    rate = models.DecimalField("percent of gross", max_digits=5, decimal_places=2)
    minimum = models.DecimalField(**MONEY)
    amount = models.DecimalField(**MONEY)
    recorded_at = models.DateTimeField()

    class Meta:
        ordering = ["-recorded_at", "-id"]
        permissions = [("view_all_commissions", "Can see every salesperson's commissions")]
        indexes = [
            models.Index(fields=["salesperson", "-recorded_at"], name="commission_person_idx"),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["deal", "salesperson", "kind"],
                name="commission_once_per_deal",
                violation_error_message="This commission is already recorded.",
            ),
            models.CheckConstraint(
                condition=Q(kind="earned", amount__gte=0) | Q(kind="chargeback", amount__lte=0),
                name="commission_sign_matches_kind",
                violation_error_message="Earned commissions are positive, chargebacks negative.",
            ),
        ]

    def __str__(self):
        return f"{self.get_kind_display()} {self.amount} on {self.deal}"
