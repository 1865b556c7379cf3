"""Business rules of the car lot: what a unit cost, and every move of a deal.

A deal goes draft -> signed -> delivered; canceled from draft or signed; unwound after delivery.
Each move is one transaction that locks rows in one fixed order, so two moves touching the same
rows queue instead of deadlocking:

    1. stock units (the one sold first, then trade-in units, by id)
    2. the deal
    3. vehicles (by id)
    4. the stock number series (a delivered trade-in's new stock unit takes its number)

Two salespeople signing two drafts for the same unit at the same moment both lock the unit first:
the second waits, then finds it reserved and gets a DealError naming the deal that holds it. The
partial unique constraint deal_one_live_deal_per_unit is the last line of defence.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any, cast

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import (
    DateField,
    DecimalField,
    ExpressionWrapper,
    F,
    Field,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Sum,
    Value,
)
from django.db.models.functions import Coalesce
from django.utils import timezone

from accounts import limits, webhooks
from accounts.models import Customer, Partner, ShopSettings, User
from accounts.scopes import LEAD_UPDATED
from core.money import ZERO, money
from inventory.exceptions import StockUnitError
from inventory.lot_services import next_stock_number, transition
from inventory.models import StockUnit, StockUnitCost, Vehicle
from repairs.costs import cost_subquery, with_internal_cost
from repairs.models import RepairOrder
from sales import calculations
from sales.exceptions import DealError
from sales.models import (
    Commission,
    CommissionPlan,
    Deal,
    DealAddon,
    DealPayment,
    DealRefund,
    Lead,
    TradeIn,
)
from sales.workflow import DEAL_PIPELINE


class LeadRefused(DealError):
    """A lead cannot be taken as posted; `field` names the input at fault, when there is one."""


# ---------------------------------------------------------------------------------------------
# What a stock unit cost
# ---------------------------------------------------------------------------------------------


def during_stay(order: str, acquired_on: date | F, left_on: date | F) -> Q:
    """The reconditioning rule, written once: an internal repair order counts towards a stock
    unit when it was opened during the unit's stay on the lot, from its acquisition day to the
    day it left (`left_on`: date.max while it is still here). `order` is the lookup path to the
    repair order ("" on a RepairOrder query, "job__repair_order__" from a line); the two days
    are values or query expressions (OuterRef, F)."""
    return Q(
        **{
            f"{order}internal": True,
            f"{order}opened_at__date__gte": acquired_on,
            f"{order}opened_at__date__lte": left_on,
        }
    )


def _during_a_stay(queryset: QuerySet[Any], order: str, to_unit: str) -> QuerySet[Any]:
    """`queryset` (of repair orders, or of lines with `order` the path to theirs) joined once to
    the stock units of the order's vehicle (`to_unit`) and kept where the order is that unit's
    reconditioning (during_stay). The unit's fields are the annotations `unit` (its id),
    `unit_location`, `unit_acquired_on`, `unit_disposed_on` and `unit_left_on`: filter and group
    by those (a later filter on a `to_unit` path would join the units a second time)."""
    return queryset.annotate(
        unit=F(to_unit),
        unit_location=F(f"{to_unit}__location"),
        unit_acquired_on=F(f"{to_unit}__acquired_on"),
        unit_disposed_on=F(f"{to_unit}__disposed_on"),
        unit_left_on=Coalesce(
            F(f"{to_unit}__disposed_on"), Value(date.max), output_field=DateField()
        ),
    ).filter(during_stay(order, F("unit_acquired_on"), F("unit_left_on")))


def reconditioning_of_units() -> QuerySet[Any]:
    """Every internal repair order that reconditioned a stock unit, once per unit it
    reconditioned, joined to that unit (see _during_a_stay)."""
    return _during_a_stay(RepairOrder.objects.all(), "", "vehicle__stock_units")


@dataclass
class RepairOrderCost:
    """An internal repair order's cost on a unit (repairs.costs: parts at the cost they had when
    added, labor at hours sold x rate; nothing if canceled)."""

    repair_order: RepairOrder
    parts: Decimal
    labor: Decimal

    @property
    def total(self) -> Decimal:
        return self.parts + self.labor


@dataclass
class UnitCosts:
    """A unit's total cost: acquisition + other costs + reconditioning."""

    acquisition: Decimal
    other: Decimal
    repair_orders: list = field(default_factory=list)

    @property
    def reconditioning(self) -> Decimal:
        return sum((ro.total for ro in self.repair_orders), ZERO)

    @property
    def total(self) -> Decimal:
        return self.acquisition + self.other + self.reconditioning


def reconditioning_orders(unit: StockUnit) -> list:
    """The unit's reconditioning: internal repair orders on its vehicle opened while it was ours
    (acquisition day to the day it left), each with its cost read live from the shop, so the
    cost follows an order as parts and labor are added, and drops to nothing if it is canceled.
    """
    orders = RepairOrder.objects.filter(
        during_stay("", unit.acquired_on, unit.disposed_on or date.max),
        vehicle_id=unit.vehicle_id,
    ).order_by("opened_at", "id")
    # Each order's cost as repairs.costs defines it, summed in the same query (a page listing a
    # unit's orders costs one query, not three per order).
    return [
        RepairOrderCost(order, money(order.parts_cost), money(order.labor_cost))
        for order in with_internal_cost(orders)
    ]


def unit_costs(unit: StockUnit) -> UnitCosts:
    other = unit.costs.aggregate(total=Sum("amount"))["total"] or ZERO
    return UnitCosts(
        acquisition=unit.acquisition_cost, other=other, repair_orders=reconditioning_orders(unit)
    )


def with_cost_totals(queryset: QuerySet[StockUnit]) -> QuerySet[StockUnit]:
    """Annotate stock units with `other_costs`, `reconditioning` and `total_cost` for lists, as
    subqueries of the list's one query. Reconditioning sums the internal orders' cost as
    repairs.costs defines it, within the unit's window (see reconditioning_orders)."""
    money = DecimalField(max_digits=12, decimal_places=2)
    other = (
        StockUnitCost.objects.filter(unit=OuterRef("pk"))
        .order_by()
        .values("unit")
        .annotate(total=Sum("amount"))
        .values("total")
    )
    queryset = queryset.annotate(
        _window_end=Coalesce("disposed_on", Value(date.max), output_field=DateField())
    )

    def reconditioning(kind: str) -> Any:
        return cost_subquery(
            kind,
            "job__repair_order__vehicle",
            during_stay("job__repair_order__", OuterRef("acquired_on"), OuterRef("_window_end")),
            job__repair_order__vehicle=OuterRef("vehicle_id"),
        )

    queryset = queryset.annotate(
        other_costs=Coalesce(Subquery(other, output_field=money), Value(ZERO), output_field=money),
        reconditioning_parts=reconditioning("parts"),
        reconditioning_labor=reconditioning("labor"),
    )
    return queryset.annotate(
        reconditioning=ExpressionWrapper(
            F("reconditioning_parts") + F("reconditioning_labor"), output_field=money
        ),
        total_cost=ExpressionWrapper(
            F("acquisition_cost")
            + F("other_costs")
            + F("reconditioning_parts")
            + F("reconditioning_labor"),
            output_field=money,
        ),
    )


# ---------------------------------------------------------------------------------------------
# A deal's figures
# ---------------------------------------------------------------------------------------------


def figures(
    deal: Deal,
    *,
    unit_cost: Decimal | None = None,
    trade_ins: Iterable[TradeIn] | None = None,
    addons: Iterable[DealAddon] | None = None,
) -> calculations.DealFigures:
    """The deal's figures from its current rows (the unit's cost read live unless given), or
    from the `trade_ins` and `addons` given instead of its saved ones."""
    if unit_cost is None:
        unit_cost = unit_costs(deal.stock_unit).total
    trades = [
        calculations.TradeFigures(t.allowance, t.payoff, t.actual_cash_value)
        for t in (deal.trade_ins.all() if trade_ins is None else trade_ins)
    ]
    addon_rows = deal.addons.all() if addons is None else addons
    return calculations.deal_figures(
        sale_price=deal.sale_price,
        documentation_fee=deal.documentation_fee,
        registration_fee=deal.registration_fee,
        tax_rate=deal.sales_tax_rate,
        trade_reduces_tax=deal.trade_in_reduces_tax,
        trades=trades,
        addons=[calculations.AddonFigures(a.price, a.cost, a.taxable) for a in addon_rows],
        down_payment=deal.down_payment,
        financed=deal.is_financed,
        apr=deal.apr,
        term_months=deal.term_months,
        finance_reserve=deal.finance_reserve,
        unit_cost=unit_cost,
    )


def starting_sale_price(unit: StockUnit) -> Decimal:
    """What a deal's sale price is until someone changes it: the unit's asking price (its
    internet price when it has no asking price)."""
    return unit.asking_price or unit.internet_price or ZERO


def preview_figures(
    deal: Deal, trade_ins: Iterable[TradeIn], addons: Iterable[DealAddon]
) -> calculations.DealFigures:
    """The figures of a draft deal as typed, before it is saved: the terms of `deal` (unsaved,
    or a draft with unsaved changes) with these trade-ins and add-ons, through figures(). A new
    deal gets what open_deal would give it: the shop's tax rules, and the unit's starting price
    when no price is given (set on `deal`, so the caller can show it)."""
    if deal.pk is not None and not deal.is_draft:
        raise DealError(
            f"{deal.number} is {deal.get_status_display().lower()}: its figures are set."
        )
    if deal.pk is None:
        shop = ShopSettings.current()
        deal.sales_tax_rate = shop.sales_tax_rate
        deal.trade_in_reduces_tax = shop.trade_in_reduces_sales_tax
    if deal.sale_price is None:
        deal.sale_price = starting_sale_price(deal.stock_unit)
    return figures(deal, trade_ins=list(trade_ins), addons=list(addons))


def amount_owed(deal: Deal) -> Decimal:
    """What the buyer owes before any down payment: the deal's total (price, add-ons, fees, tax)
    less the trade-in equity, never below zero. A deal not saved yet has no trade-ins or
    add-ons, and uses the shop's current tax rules."""
    if deal.pk is None:
        shop = ShopSettings.current()
        trades, addons = [], []
        tax_rate = deal.sales_tax_rate if deal.sales_tax_rate is not None else shop.sales_tax_rate
        reduces = (
            deal.trade_in_reduces_tax
            if deal.trade_in_reduces_tax is not None
            else shop.trade_in_reduces_sales_tax
        )
        fees = [
            shop.documentation_fee if deal.documentation_fee is None else deal.documentation_fee,
            shop.registration_fee if deal.registration_fee is None else deal.registration_fee,
        ]
    else:
        trades = [
            calculations.TradeFigures(t.allowance, t.payoff, t.actual_cash_value)
            for t in deal.trade_ins.all()
        ]
        addons = [calculations.AddonFigures(a.price, a.cost, a.taxable) for a in deal.addons.all()]
        tax_rate, reduces = deal.sales_tax_rate, deal.trade_in_reduces_tax
        fees = [deal.documentation_fee, deal.registration_fee]
    sale_price = deal.sale_price
    if sale_price is None and deal.stock_unit_id is not None:  # the price open_deal will set
        sale_price = starting_sale_price(deal.stock_unit)
    result = calculations.deal_figures(
        sale_price=sale_price or ZERO,
        documentation_fee=fees[0] or ZERO,
        registration_fee=fees[1] or ZERO,
        tax_rate=tax_rate,
        trade_reduces_tax=reduces,
        trades=trades,
        addons=addons,
    )
    return max(result.total_price - result.net_trade, ZERO)


def check_down_payment(deal: Deal) -> None:
    """DealError when the down payment is more than the buyer owes."""
    down_payment = deal.down_payment or ZERO
    if down_payment <= 0:
        return
    owed = amount_owed(deal)
    if down_payment > owed:
        raise DealError(
            f"A down payment of {down_payment:,.2f} is more than the buyer owes "
            f"({owed:,.2f}: the total less the trade-in equity)."
        )


def _check_bounds(deal: Deal) -> None:
    """Each amount of the deal within its bound (accounts.limits), as DealError."""
    money_fields = [
        "sale_price",
        "documentation_fee",
        "registration_fee",
        "down_payment",
        "finance_reserve",
        "apr",
        "term_months",
    ]
    try:
        deal.clean_fields(
            exclude=[f.name for f in Deal._meta.concrete_fields if f.name not in money_fields]
        )
    except ValidationError as exc:
        raise DealError(
            " ".join(
                f"{cast(Field[Any, Any], Deal._meta.get_field(name)).verbose_name.capitalize()}: "
                f"{' '.join(messages)}"
                for name, messages in exc.message_dict.items()
            )
        ) from None


def payments_received(deal: Deal) -> Decimal:
    return deal.payments.aggregate(total=Sum("amount"))["total"] or ZERO


def refunds_made(deal: Deal) -> Decimal:
    return deal.refunds.aggregate(total=Sum("amount"))["total"] or ZERO


def money_held(deal: Deal) -> Decimal:
    """What the shop holds of the buyer's money on this deal: payments received less refunds."""
    return payments_received(deal) - refunds_made(deal)


# ---------------------------------------------------------------------------------------------
# Deal workflow
# ---------------------------------------------------------------------------------------------


def open_deal(deal: Deal) -> Deal:
    """Save a new draft deal (an unsaved Deal), with the shop's current fees and tax rules."""
    if deal.pk is not None:
        raise DealError("This deal is already written up.")
    shop = ShopSettings.current()
    unit = StockUnit.objects.get(pk=deal.stock_unit_id)
    if not unit.in_stock:
        raise DealError(
            f"Stock unit {unit.stock_number} is {unit.get_status_display().lower()}; "
            "it is not for sale."
        )
    if deal.co_buyer_id and deal.co_buyer_id == deal.buyer_id:
        raise DealError("The co-buyer cannot be the buyer.")
    if deal.sale_price is None:
        deal.sale_price = starting_sale_price(unit)
    if deal.documentation_fee is None:
        deal.documentation_fee = shop.documentation_fee
    if deal.registration_fee is None:
        deal.registration_fee = shop.registration_fee
    deal.sales_tax_rate = shop.sales_tax_rate
    deal.trade_in_reduces_tax = shop.trade_in_reduces_sales_tax
    _check_bounds(deal)
    check_down_payment(deal)
    deal.status = Deal.Status.DRAFT
    deal.save()
    return deal


def create_deal(
    *, stock_unit: StockUnit, buyer: Customer, salesperson: User, **fields: Any
) -> Deal:
    """open_deal for callers that have the parts rather than a Deal (demo data, API, tests)."""
    return open_deal(Deal(stock_unit=stock_unit, buyer=buyer, salesperson=salesperson, **fields))


def update_draft(deal: Deal) -> Deal:
    """Save changes to a draft deal's terms; a signed deal's terms are what the buyer signed."""
    with transaction.atomic():
        locked = Deal.objects.select_for_update().get(pk=deal.pk)
        if not locked.is_draft:
            raise DealError(
                f"{locked.number} is {locked.get_status_display().lower()}; its terms "
                "cannot change."
            )
        unit = StockUnit.objects.get(pk=deal.stock_unit_id)
        if not unit.in_stock:
            raise DealError(
                f"Stock unit {unit.stock_number} is "
                f"{unit.get_status_display().lower()}; it is not for sale."
            )
        if deal.co_buyer_id and deal.co_buyer_id == deal.buyer_id:
            raise DealError("The co-buyer cannot be the buyer.")
        _check_bounds(deal)
        check_down_payment(deal)
        deal.status = Deal.Status.DRAFT
        deal.save()
    return deal


def sign_deal(deal: Deal) -> Deal:
    """The buyer signs: the figures are frozen and the unit is reserved for this deal."""
    with transaction.atomic():
        unit, locked = _lock_unit_and_deal(deal)
        DEAL_PIPELINE.check(locked, Deal.Status.SIGNED)
        if unit.status != StockUnit.Status.AVAILABLE:
            raise DealError(_unit_not_available(unit))
        trades = list(locked.trade_ins.select_related("vehicle"))
        _lock_vehicles([t.vehicle_id for t in trades])
        _check_trade_ins(locked, unit, trades)
        result = figures(locked)
        _check_terms(locked, result)

        locked.status = Deal.Status.SIGNED
        locked.signed_at = timezone.now()
        locked.sales_tax = result.sales_tax
        locked.total_price = result.total_price
        locked.amount_financed = result.amount_financed
        locked.monthly_payment = result.monthly_payment
        try:
            with transaction.atomic():
                locked.save()
        except IntegrityError:
            raise DealError(
                f"Stock unit {unit.stock_number} is already in another signed deal."
            ) from None
        _move(unit, StockUnit.Status.RESERVED)
    deal.refresh_from_db()
    return deal


def deliver_deal(deal: Deal, *, on: date | None = None) -> Deal:
    """The buyer drives away: the unit is sold, each trade-in becomes a stock unit at its actual
    cash value owned by the business, the gross is frozen and the commission recorded."""
    now = timezone.now()
    on = on or timezone.localdate()
    with transaction.atomic():
        unit, locked = _lock_unit_and_deal(deal)
        DEAL_PIPELINE.check(locked, Deal.Status.DELIVERED)
        if unit.status != StockUnit.Status.RESERVED:
            raise DealError(
                f"Stock unit {unit.stock_number} is "
                f"{unit.get_status_display().lower()}, not reserved for this deal."
            )
        result = figures(locked)
        outstanding = result.cash_due - payments_received(locked)
        if outstanding > 0:
            raise DealError(
                f"{locked.number} still has {outstanding:,.2f} to collect from the "
                "buyer before delivery."
            )
        trades = list(locked.trade_ins.order_by("id"))
        vehicles = _lock_vehicles([unit.vehicle_id] + [t.vehicle_id for t in trades])

        for trade in trades:
            vehicle = vehicles[trade.vehicle_id]
            if vehicle.stock_units.filter(status__in=StockUnit.IN_STOCK).exists():
                raise DealError(f"The trade-in {vehicle} is already in stock.")
            new_unit = StockUnit(
                stock_number=next_stock_number(),
                vehicle=vehicle,
                source=StockUnit.Source.TRADE_IN,
                acquired_from=str(locked.buyer),
                acquired_on=on,
                acquisition_cost=trade.actual_cash_value,
                title_status=(
                    StockUnit.TitleStatus.MISSING
                    if trade.payoff
                    else StockUnit.TitleStatus.RECEIVED
                ),
                notes=f"Traded in on {locked.number}.",
                # The trade-in stays on the lot where the deal was made.
                location_id=unit.location_id,
            )
            try:
                with transaction.atomic():
                    new_unit.save()
            except IntegrityError:
                raise DealError(
                    f"Stock number {new_unit.stock_number} is already used, or "
                    f"{vehicle} is already in stock."
                ) from None
            trade.stock_unit = new_unit
            trade.previous_owner_id = vehicle.owner_id or locked.buyer_id
            trade.save(update_fields=["stock_unit", "previous_owner"])
            _set_owner(vehicle, None)

        _set_owner(vehicles[unit.vehicle_id], locked.buyer_id)
        _move(unit, StockUnit.Status.SOLD, on=on)

        locked.status = Deal.Status.DELIVERED
        locked.delivered_at = now
        locked.unit_cost = result.unit_cost
        locked.front_gross = result.front_gross
        locked.back_gross = result.back_gross
        locked.save()
        _record_commission(locked, result, now)
        if locked.lead_id:
            lead = Lead.objects.select_for_update().get(pk=locked.lead_id)
            lead.status, lead.next_follow_up = Lead.Status.WON, None
            lead.save(update_fields=["status", "next_follow_up", "updated_at"])
            _publish_lead(lead)
    deal.refresh_from_db()
    return deal


def cancel_deal(deal: Deal, *, reason: str) -> Deal:
    """The deal falls through before delivery; a signed deal's unit goes back on sale."""
    reason = (reason or "").strip()
    if not reason:
        raise DealError("Say why the deal is canceled.")
    with transaction.atomic():
        unit, locked = _lock_unit_and_deal(deal)
        DEAL_PIPELINE.check(locked, Deal.Status.CANCELED)
        if locked.status == Deal.Status.SIGNED:
            _move(unit, StockUnit.Status.AVAILABLE)
        locked.status = Deal.Status.CANCELED
        locked.closed_at = timezone.now()
        locked.close_reason = reason
        locked.save()
    deal.refresh_from_db()
    return deal


def unwind_deal(deal: Deal, *, reason: str) -> Deal:
    """Take a delivered deal back: the unit returns to stock, each trade-in goes back to its
    owner (its stock unit leaves the lot as returned), and the commission is charged back."""
    reason = (reason or "").strip()
    if not reason:
        raise DealError("Say why the deal is unwound.")
    now = timezone.now()
    with transaction.atomic():
        # Every stock unit involved (the one sold and the trade-ins') first, by id; then the deal.
        unit_id = Deal.objects.values_list("stock_unit_id", flat=True).get(pk=deal.pk)
        trades = [
            t for t in TradeIn.objects.filter(deal_id=deal.pk).order_by("id") if t.stock_unit_id
        ]
        # The sold unit and the kept trade-ins' units: none of them is None.
        unit_ids = cast("set[int]", {unit_id, *(t.stock_unit_id for t in trades)})
        units: dict[int | None, StockUnit] = {
            u.pk: u
            for u in StockUnit.objects.select_for_update().filter(pk__in=unit_ids).order_by("pk")
        }
        locked = Deal.objects.select_for_update().get(pk=deal.pk)
        DEAL_PIPELINE.check(locked, Deal.Status.UNWOUND)
        unit = units[locked.stock_unit_id]
        if unit.status != StockUnit.Status.SOLD:
            raise DealError(
                f"Stock unit {unit.stock_number} is "
                f"{unit.get_status_display().lower()}, not sold by this deal."
            )
        for trade in trades:
            trade_unit = units[trade.stock_unit_id]
            if trade_unit.status == StockUnit.Status.RESERVED:
                holder = trade_unit.deals.filter(status=Deal.Status.SIGNED).first()
                raise DealError(
                    f"The trade-in {trade_unit.stock_number} is reserved by "
                    f"{holder or 'a signed deal'}; cancel that deal first."
                )
            if not trade_unit.in_stock:
                raise DealError(
                    f"The trade-in {trade_unit.stock_number} has left the lot "
                    f"({trade_unit.get_status_display().lower()}); the deal cannot "
                    "be unwound."
                )
        vehicles = _lock_vehicles([unit.vehicle_id] + [t.vehicle_id for t in trades])

        for trade in trades:
            _move(units[trade.stock_unit_id], StockUnit.Status.RETURNED, on=timezone.localdate())
            _set_owner(vehicles[trade.vehicle_id], trade.previous_owner_id)
        _move(unit, StockUnit.Status.AVAILABLE)
        _set_owner(vehicles[unit.vehicle_id], None)

        locked.status = Deal.Status.UNWOUND
        locked.closed_at = now
        locked.close_reason = reason
        locked.save()
        for earned in locked.commissions.filter(kind=Commission.Kind.EARNED):
            Commission.objects.create(
                deal=locked,
                salesperson_id=earned.salesperson_id,
                kind=Commission.Kind.CHARGEBACK,
                plan_name=earned.plan_name,
                gross=earned.gross,
                rate=earned.rate,
                minimum=earned.minimum,
                amount=-earned.amount,
                recorded_at=now,
            )
    deal.refresh_from_db()
    return deal


def record_payment(
    deal: Deal,
    *,
    amount: Decimal,
    method: str,
    reference: str = "",
    received_at: datetime | None = None,
    user: User | None = None,
) -> DealPayment:
    """Money received from the buyer, before delivery."""
    amount = Decimal(amount)
    if amount <= 0:
        raise DealError("A payment is more than zero.")
    if amount > limits.MAX_VEHICLE_AMOUNT:
        raise DealError(limits.message(limits.MAX_VEHICLE_AMOUNT, "for a vehicle"))
    with transaction.atomic():
        locked = Deal.objects.select_for_update().get(pk=deal.pk)
        if locked.status not in (Deal.Status.DRAFT, Deal.Status.SIGNED):
            raise DealError(
                f"{locked.number} is {locked.get_status_display().lower()}; "
                "payments are taken before delivery."
            )
        return DealPayment.objects.create(
            deal=locked,
            amount=amount,
            method=method,
            reference=reference,
            received_at=received_at or timezone.now(),
            received_by=user,
        )


REFUNDABLE = (Deal.Status.CANCELED, Deal.Status.UNWOUND)


def record_refund(
    deal: Deal,
    *,
    amount: Decimal,
    method: str,
    reference: str = "",
    refunded_at: datetime | None = None,
    user: User | None = None,
) -> DealRefund:
    """Money given back to the buyer of a deal that fell through (canceled or unwound), at most
    what the shop still holds of the buyer's payments. The deal row is locked, so two refunds
    recorded at once cannot together give back more than was received."""
    amount = Decimal(amount)
    if amount <= 0:
        raise DealError("A refund is more than zero.")
    with transaction.atomic():
        locked = Deal.objects.select_for_update().get(pk=deal.pk)
        if locked.status not in REFUNDABLE:
            raise DealError(
                f"{locked.number} is {locked.get_status_display().lower()}; money is "
                "refunded once a deal is canceled or unwound."
            )
        held = money_held(locked)
        if amount > held:
            raise DealError(
                f"{locked.number} holds {held:,.2f} of the buyer's money "
                f"({payments_received(locked):,.2f} received, "
                f"{refunds_made(locked):,.2f} refunded): a refund of {amount:,.2f} "
                "is more than that."
            )
        return DealRefund.objects.create(
            deal=locked,
            amount=amount,
            method=method,
            reference=reference,
            refunded_at=refunded_at or timezone.now(),
            refunded_by=user,
        )


# Who sees every salesperson's commissions, and so every deal's cost and gross.
ALL_COMMISSIONS = "sales.view_all_commissions"


def gross_hidden(user: User) -> Q | None:
    """The deals whose unit cost and gross `user` may not see: another salesperson's (a
    commission is a share of the gross: another's gross tells their pay); None for whoever
    sees every salesperson's commissions."""
    if user.has_perm(ALL_COMMISSIONS):
        return None
    return ~Q(salesperson=user)


def commission_plan_for(salesperson: User) -> CommissionPlan | None:
    """The salesperson's own plan, else the house plan, else None."""
    plans = list(
        CommissionPlan.objects.filter(Q(salesperson=salesperson) | Q(salesperson__isnull=True))
    )
    own: list[CommissionPlan | None] = [
        plan for plan in plans if plan.salesperson_id == salesperson.pk
    ]
    house: list[CommissionPlan | None] = [plan for plan in plans if plan.salesperson_id is None]
    return (own or house or [None])[0]


# ---------------------------------------------------------------------------------------------
# Leads
# ---------------------------------------------------------------------------------------------


def create_partner_lead(
    partner: Partner,
    *,
    stock_unit: StockUnit,
    first_name: str = "",
    last_name: str = "",
    email: str = "",
    phone: str = "",
    message: str = "",
    source_reference: str = "",
) -> Lead:
    """A lead posted by a marketplace for a car it lists: a new customer record with the buyer's
    contact (a salesperson merges it with an existing customer if it is one: matching on an
    email a partner sends would attach its lead to someone else's record), and a new lead."""
    first_name, last_name = (first_name or "").strip(), (last_name or "").strip()
    email, phone = (email or "").strip(), (phone or "").strip()
    if not (first_name or last_name):
        raise LeadRefused("Give the buyer's first or last name.", field="last_name")
    if not (email or phone):
        raise LeadRefused(
            "Give an email address or a phone number to reach the buyer.", field="email"
        )
    with transaction.atomic():
        unit = StockUnit.objects.filter(pk=getattr(stock_unit, "pk", stock_unit)).first()
        if unit is None or unit.status != StockUnit.Status.AVAILABLE:
            raise LeadRefused("This car is not for sale (any more).", field="stock_unit")
        customer = Customer.objects.create(
            kind=Customer.Kind.PERSON,
            first_name=first_name[:80],
            last_name=last_name[:80],
            email=email,
            phone=phone,
            notes=f"Posted by {partner.name} through the partner API.",
        )
        lead = Lead.objects.create(
            customer=customer,
            source=Lead.Source.MARKETPLACE,
            source_reference=(source_reference or "").strip()[:80],
            stock_unit=unit,
            partner=partner,
            message=(message or "").strip(),
            status=Lead.Status.NEW,
        )
    return lead


def save_lead(lead: Lead) -> Lead:
    """Save a lead a salesperson edited; the marketplace that posted it hears of a new status."""
    with transaction.atomic():
        previous = None
        if lead.pk is not None:
            previous = (
                Lead.objects.select_for_update()
                .filter(pk=lead.pk)
                .values_list("status", flat=True)
                .first()
            )
        lead.save()
        if previous is not None and previous != lead.status:
            _publish_lead(lead)
    return lead


def _publish_lead(lead: Lead) -> None:
    """`lead.updated` to the partner that posted the lead (none for the lot's own leads)."""
    if lead.partner_id is None:
        return
    webhooks.publish(
        LEAD_UPDATED,
        {
            "lead": lead.pk,
            "status": lead.status,
            "source_reference": lead.source_reference,
            "stock_unit": lead.stock_unit_id,
            "changed_at": timezone.now(),
        },
        partner=lead.partner_id,
    )


def mark_lead_lost(lead: Lead, *, reason: str) -> Lead:
    reason = (reason or "").strip()
    if not reason:
        raise DealError("Say why the lead was lost.")
    with transaction.atomic():
        locked = Lead.objects.select_for_update().get(pk=lead.pk)
        if locked.status not in Lead.OPEN:
            raise DealError(f"{locked} is {locked.get_status_display().lower()} already.")
        locked.status = Lead.Status.LOST
        locked.lost_reason = reason
        locked.next_follow_up = None
        locked.save()
        _publish_lead(locked)
    lead.refresh_from_db()
    return lead


def assign_lead(lead: Lead, salesperson: User) -> Lead:
    with transaction.atomic():
        locked = Lead.objects.select_for_update().get(pk=lead.pk)
        if locked.status not in Lead.OPEN:
            raise DealError(
                f"{locked} is {locked.get_status_display().lower()}; it needs no salesperson."
            )
        locked.salesperson = salesperson
        locked.save(update_fields=["salesperson", "updated_at"])
    lead.refresh_from_db()
    return lead


# ---------------------------------------------------------------------------------------------
# Internals
# ---------------------------------------------------------------------------------------------


def _lock_unit_and_deal(deal: Deal) -> tuple:
    """Lock the deal's stock unit, then the deal (the fixed order; see the module docstring)."""
    unit_id = Deal.objects.values_list("stock_unit_id", flat=True).get(pk=deal.pk)
    unit = StockUnit.objects.select_for_update().get(pk=unit_id)
    locked = Deal.objects.select_for_update().get(pk=deal.pk)
    if locked.stock_unit_id != unit_id:
        raise DealError(f"{locked.number} changed while you worked on it; try again.")
    locked.stock_unit = unit
    return unit, locked


def _lock_vehicles(ids: Iterable[int]) -> dict[int, Vehicle]:
    return {
        v.pk: v for v in Vehicle.objects.select_for_update().filter(pk__in=set(ids)).order_by("pk")
    }


def _set_owner(vehicle: Vehicle, owner_id: int | None) -> None:
    if vehicle.owner_id != owner_id:
        vehicle.owner_id = owner_id
        vehicle.save(update_fields=["owner", "updated_at"])


def _move(unit: StockUnit, status: str, *, on: date | None = None) -> None:
    try:
        transition(unit, status, on=on)
    except StockUnitError as exc:
        raise DealError(str(exc)) from None


def _unit_not_available(unit: StockUnit) -> str:
    if unit.status == StockUnit.Status.RESERVED:
        holder = unit.deals.filter(status=Deal.Status.SIGNED).select_related("salesperson").first()
        who = f" by {holder} ({holder.salesperson})" if holder else ""
        return f"Stock unit {unit.stock_number} is already reserved{who}."
    if unit.status == StockUnit.Status.SOLD:
        return f"Stock unit {unit.stock_number} is already sold."
    return (
        f"Stock unit {unit.stock_number} is {unit.get_status_display().lower()}; make it "
        "available before signing."
    )


def _check_trade_ins(deal: Deal, unit: StockUnit, trades: Iterable[TradeIn]) -> None:
    owners = {deal.buyer_id, deal.co_buyer_id}
    for trade in trades:
        vehicle = trade.vehicle
        if vehicle.pk == unit.vehicle_id:
            raise DealError("The car being sold cannot be traded in on its own deal.")
        if vehicle.owner_id is not None and vehicle.owner_id not in owners:
            raise DealError(
                f"The trade-in {vehicle} belongs to {vehicle.owner}, not to the buyer or co-buyer."
            )
        if vehicle.stock_units.filter(status__in=StockUnit.IN_STOCK).exists():
            raise DealError(f"The trade-in {vehicle} is the business's own stock.")
        other = (
            TradeIn.objects.filter(vehicle=vehicle, deal__status=Deal.Status.SIGNED)
            .exclude(deal=deal)
            .select_related("deal")
            .first()
        )
        if other is not None:
            raise DealError(f"The trade-in {vehicle} is already traded in on {other.deal}.")


def _check_terms(deal: Deal, result: calculations.DealFigures) -> None:
    if deal.sale_price <= 0:
        raise DealError("The deal needs a sale price.")
    if deal.is_financed:
        if deal.apr is None or not deal.term_months:
            raise DealError("A financed deal needs the APR and the term.")
        if result.balance <= 0:
            raise DealError(
                "Nothing is left to finance: remove the lender or lower the down payment."
            )
    elif result.total_price - result.net_trade < 0:
        raise DealError("The trade-in equity is more than the deal's total; lower the allowance.")
    check_down_payment(deal)


def _record_commission(
    deal: Deal, result: calculations.DealFigures, now: datetime
) -> Commission | None:
    plan = commission_plan_for(deal.salesperson)
    if plan is None:
        return None
    gross = result.front_gross if plan.basis == CommissionPlan.Basis.FRONT else result.total_gross
    return Commission.objects.create(
        deal=deal,
        salesperson=deal.salesperson,
        kind=Commission.Kind.EARNED,
        plan_name=plan.name,
        gross=gross,
        rate=plan.rate,
        minimum=plan.minimum,
        amount=calculations.commission(gross, plan.rate, plan.minimum),
        recorded_at=now,
    )


def deal_deletion_refusal(deal: Deal) -> str | None:
    """Why a deal may not be deleted (it stays for the record), or None when it may be."""
    if not deal.is_draft:
        return (
            f"{deal.number} is {deal.get_status_display().lower()}: a deal past draft is "
            f"canceled (Cancel…) or unwound, never deleted, so its stock unit and "
            f"money stay accounted for. Only a draft is deleted."
        )
    return None


def lead_deletion_refusal(lead: Lead) -> str | None:
    """Why a lead may not be deleted (it stays for the record), or None when it may be."""
    if lead.status not in Lead.OPEN:
        return (
            f"The lead of {lead.customer} is {lead.get_status_display().lower()}: it stays "
            f"for the sales history; only an open lead is deleted (or marked lost)."
        )
    return None


def stale_draft_deals(cutoff: datetime) -> QuerySet[Deal]:
    """Draft deals untouched since `cutoff` with nothing attached that must be kept: no payment
    (money received), no commission, no trade-in (an appraisal of the buyer's car). The rule of
    `prune_temp_data`, which deletes them."""
    from django.db.models import Exists

    return (
        Deal.objects.filter(status=Deal.Status.DRAFT, updated_at__lt=cutoff)
        .exclude(Exists(DealPayment.objects.filter(deal=OuterRef("pk"))))
        .exclude(Exists(Commission.objects.filter(deal=OuterRef("pk"))))
        .exclude(Exists(TradeIn.objects.filter(deal=OuterRef("pk"))))
    )
