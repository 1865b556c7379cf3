import datetime

from django.conf import settings
from django.db import models


class Report(models.Model):
    """No table: the holder of the report permissions, which roles grant by codename
    ("reports.view_shop_reports" and so on, see accounts/roles.py)."""

    class Meta:
        managed = False
        default_permissions = ()
        permissions = [
            ("view_dashboard", "Can see the manager's dashboard"),
            ("view_shop_reports", "Can see the shop's reports (sales, gross, productivity)"),
            ("view_work_in_progress", "Can see the shop's work in progress"),
            ("view_lot_reports", "Can see the lot's reports (gross, aging, commissions)"),
            ("view_lot_units_sold", "Can see the lot's units sold (no gross)"),
        ]

    def __str__(self):
        return "Reports"


# --- summaries ---------------------------------------------------------------------------------
# The shop's sums per day, so that a report over years reads a row a day instead of every
# invoice and line behind it. Filled from the raw rows by reports.summaries.refresh (set-based
# grouped queries), read by reports.figures.shop for whole days up to SummaryState.through;
# later days (today at least) are counted live from the raw rows. Never edited by hand.


def exact():
    """A sum kept exact (the sums of amounts with more decimals than cents)."""
    return models.DecimalField(max_digits=20, decimal_places=6, default=0)


class ShopDay(models.Model):
    """One day's sums (the shop's local date). Definitions: docs/reports.md."""

    day = models.DateField()
    # The location the sums are of (an invoice's, an order's, a time entry's location).
    location = models.ForeignKey("accounts.Location", on_delete=models.CASCADE, related_name="+")
    # Invoices issued that day: how many, labor, parts and discount.
    cars = models.PositiveIntegerField(default=0)
    labor_total = exact()
    parts_total = exact()
    discount_total = exact()
    # Credit notes issued that day.
    credits = exact()
    # Counted lines of the orders invoiced that day.
    sublet_sales = exact()
    sublet_cost = exact()
    parts_cost = exact()
    hours_sold = exact()
    labor_net = exact()
    # Time clocked (and clocked off) on the orders invoiced that day.
    worked = models.DurationField(default=datetime.timedelta)
    # Jobs of customers' orders approved or declined that day, and their value.
    approved_jobs = models.PositiveIntegerField(default=0)
    approved_value = exact()
    declined_jobs = models.PositiveIntegerField(default=0)
    declined_value = exact()
    # The customers' orders opened that day (not canceled), and those of them that are comebacks.
    opened_orders = models.PositiveIntegerField(default=0)
    comebacks = models.PositiveIntegerField(default=0)

    class Meta:
        default_permissions = ()
        constraints = [
            models.UniqueConstraint(fields=["location", "day"], name="shopday_location_day_uniq")
        ]
        indexes = [models.Index(fields=["day"], name="shopday_day_idx")]

    def __str__(self):
        return f"Shop {self.location_id} on {self.day}"


class TechnicianDay(models.Model):
    """One technician's day: labor hours sold on the orders finished that day, time clocked
    on jobs started that day (and clocked off)."""

    day = models.DateField()
    location = models.ForeignKey("accounts.Location", on_delete=models.CASCADE, related_name="+")
    technician = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+"
    )
    hours_sold = exact()
    worked = models.DurationField(default=datetime.timedelta)

    class Meta:
        default_permissions = ()
        constraints = [
            models.UniqueConstraint(
                fields=["location", "day", "technician"], name="techday_loc_day_tech_uniq"
            )
        ]
        indexes = [models.Index(fields=["day"], name="techday_day_idx")]

    def __str__(self):
        return f"Technician {self.technician_id} on {self.day}"


class PartsDay(models.Model):
    """One day's parts issued to repair orders, less those returned from them, at their cost
    (the stock movements' Σ quantity x unit cost: negative for what went out), by the part's
    category. The turns of the parts inventory."""

    day = models.DateField()
    # Where the stock moved.
    location = models.ForeignKey("accounts.Location", on_delete=models.CASCADE, related_name="+")
    category = models.CharField(max_length=60, blank=True)
    moved = exact()

    class Meta:
        default_permissions = ()
        constraints = [
            models.UniqueConstraint(
                fields=["location", "day", "category"], name="partsday_loc_day_cat_uniq"
            )
        ]
        indexes = [models.Index(fields=["day"], name="partsday_day_idx")]

    def __str__(self):
        return f"Parts {self.category or '(none)'} on {self.day}"


class ReconditioningOrder(models.Model):
    """An internal repair order (not canceled) opened on a summarized day during a stock unit's
    stay on the lot (sales.services.during_stay), once per unit it reconditioned, with what its
    counted lines cost (repairs.costs: parts at cost, labor hours sold x rate). The lot's
    reconditioning report sums these by month instead of joining every internal order's lines
    to the units."""

    repair_order = models.ForeignKey(
        "repairs.RepairOrder", on_delete=models.CASCADE, related_name="+"
    )
    unit = models.ForeignKey("inventory.StockUnit", on_delete=models.CASCADE, related_name="+")
    # The order's opening day (the shop's local date).
    day = models.DateField()
    parts = exact()
    labor = exact()

    class Meta:
        default_permissions = ()
        constraints = [
            models.UniqueConstraint(
                fields=["repair_order", "unit"], name="recondorder_ro_unit_uniq"
            )
        ]
        indexes = [models.Index(fields=["day"], name="recondorder_day_idx")]

    def __str__(self):
        return f"Order {self.repair_order_id} on unit {self.unit_id}"


class SummaryState(models.Model):
    """One row: the summaries hold every day up to `through` (included), as refreshed at
    `refreshed_at`. None: no summary yet, every figure is counted from the raw rows."""

    through = models.DateField(null=True, blank=True)
    refreshed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        default_permissions = ()

    def __str__(self):
        return f"Summaries through {self.through}"


class OpenInvoice(models.Model):
    """An invoice that left something to pay at the end of SummaryState.through: what had been
    paid and credited on it by then (`settled`). The receivables as of a later day add what
    came in since; as of an earlier day, what came in between."""

    invoice = models.OneToOneField(
        "repairs.Invoice", on_delete=models.CASCADE, primary_key=True, related_name="+"
    )
    issued_at = models.DateTimeField()
    # The invoice's location (a copy: the figures of one location filter on it).
    location = models.ForeignKey("accounts.Location", on_delete=models.CASCADE, related_name="+")
    total = models.DecimalField(max_digits=12, decimal_places=2)
    settled = models.DecimalField(max_digits=12, decimal_places=2)

    class Meta:
        default_permissions = ()

    def __str__(self):
        return f"Invoice {self.invoice_id} open"


class InvoiceSpan(models.Model):
    """An invoice that was still owing at the end of at least one day before the end of
    SummaryState.through: issued then, and paid off (payments and credit notes reaching its
    total) at `settled_at`, or not by then (None). Invoices paid off the day they were issued
    are left out: they never owed anything at a day's end. The receivables as of an earlier
    day take those issued before it and paid off after it (on PostgreSQL a GiST index on the
    span finds them without reading the others)."""

    invoice = models.OneToOneField(
        "repairs.Invoice", on_delete=models.CASCADE, primary_key=True, related_name="+"
    )
    issued_at = models.DateTimeField()
    # The invoice's location (a copy: the figures of one location filter on it).
    location = models.ForeignKey("accounts.Location", on_delete=models.CASCADE, related_name="+")
    total = models.DecimalField(max_digits=12, decimal_places=2)
    settled_at = models.DateTimeField(null=True, blank=True)
    # Paid and credited on it by the end of SummaryState.through (None: stored before it was
    # kept). Nothing then means nothing on any day before: it owed its total.
    settled = models.DecimalField(max_digits=12, decimal_places=2, null=True, blank=True)
    # Its first payment or credit note before the end of SummaryState.through (None: none then,
    # or stored before it was kept): as of an earlier day, it owed its total.
    first_settled_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        default_permissions = ()

    def __str__(self):
        return f"Invoice {self.invoice_id} owing until {self.settled_at}"


class DeclinedJob(models.Model):
    """A job of a customer's order declined by the customer, with its value (labor + parts at
    the quoted prices) and whether its vehicle had an order opened after the decline by the
    end of SummaryState.through (`returned`)."""

    job = models.OneToOneField(
        "repairs.Job", on_delete=models.CASCADE, primary_key=True, related_name="+"
    )
    authorized_at = models.DateTimeField()
    # Its order's location (a copy: the figures of one location filter on it).
    location = models.ForeignKey("accounts.Location", on_delete=models.CASCADE, related_name="+")
    vehicle_id = models.BigIntegerField()
    value = exact()
    returned = models.BooleanField()

    class Meta:
        default_permissions = ()
        indexes = [
            models.Index(
                fields=["authorized_at"],
                condition=models.Q(returned=False),
                name="declinedjob_due_idx",
            ),
            models.Index(
                fields=["location", "authorized_at"],
                condition=models.Q(returned=False),
                name="declinedjob_loc_due_idx",
            ),
        ]

    def __str__(self):
        return f"Declined job {self.job_id}"


class StaleDay(models.Model):
    """A summarized day whose records changed after it was summarized (a decision changed on a
    job decided that day, a line of such a job, a time entry moved): until the next refresh
    counts it again, the figures count that day from the records instead of its summary."""

    day = models.DateField(primary_key=True)
    marked_at = models.DateTimeField()

    class Meta:
        default_permissions = ()

    def __str__(self):
        return f"{self.day} changed since summarized"


class PartMoved(models.Model):
    """A part's last stock movement before the end of SummaryState.through (None: none), for
    every part there then. Dead stock takes the parts whose last one is older than its cutoff
    and with none since; a part without a row (added since, or whose movements before then
    changed) is looked up in its movements."""

    part = models.OneToOneField(
        "inventory.Part", on_delete=models.CASCADE, primary_key=True, related_name="summary_moved"
    )
    last_moved_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        default_permissions = ()

    def __str__(self):
        return f"Part {self.part_id} last moved {self.last_moved_at}"


class PartStockMoved(models.Model):
    """A part's last stock movement at one location (its PartStock row) before the end of
    SummaryState.through (None: none). Dead stock at a location takes the rows whose last one
    is older than its cutoff and with none since; a row without one here (stocked since, or
    whose movements before then changed) is looked up in its movements."""

    part_stock = models.OneToOneField(
        "inventory.PartStock",
        on_delete=models.CASCADE,
        primary_key=True,
        related_name="summary_moved",
    )
    last_moved_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        default_permissions = ()

    def __str__(self):
        return f"Part stock {self.part_stock_id} last moved {self.last_moved_at}"
