"""What an estimate or invoice says: the shop, the customer, the vehicle, the lines, the totals.

build_document() gives one plain dict (JSON-ready: money as strings) used by the print view, the
PDF and the invoice snapshot, so an invoice printed a year later shows what was invoiced.
"""

from django.db.models import Prefetch
from django.utils import timezone

from core.hours import hours_text
from repairs.choices import Authorization, AuthorizationMethod
from repairs.models import Job, LaborLine, PartLine, RepairOrder
from repairs.totals import LaborItem, PartItem, Rates, compute_totals


def jobs_with_lines():
    """Jobs with their lines, technicians and parts in three queries, whatever their number."""
    return Job.objects.prefetch_related(
        Prefetch("labor_lines", queryset=LaborLine.objects.select_related("technician")),
        Prefetch("part_lines", queryset=PartLine.objects.select_related("part")),
    )


def load_order(pk, queryset=None):
    """A repair order with everything a document or a total needs, in a fixed number of
    queries."""
    queryset = queryset if queryset is not None else RepairOrder.objects.all()
    return (
        queryset.select_related("customer", "vehicle", "advisor", "location")
        .prefetch_related(Prefetch("jobs", queryset=jobs_with_lines()))
        .get(pk=pk)
    )


def counted_jobs(repair_order):
    """Jobs that count toward the bill: all but those the customer declined."""
    return [job for job in repair_order.jobs.all() if job.authorization != Authorization.DECLINED]


def job_items(job):
    labor = [LaborItem(line.hours_sold, line.rate) for line in job.labor_lines.all()]
    parts = [PartItem(line.quantity, line.price, line.taxable) for line in job.part_lines.all()]
    return labor, parts


def order_totals(repair_order, rates):
    labor, parts = [], []
    for job in counted_jobs(repair_order):
        job_labor, job_parts = job_items(job)
        labor += job_labor
        parts += job_parts
    return compute_totals(
        labor,
        parts,
        rates,
        discount_percent=repair_order.discount_percent,
        hazardous_waste=repair_order.hazardous_waste,
        internal=repair_order.internal,
    )


def shop_details(shop):
    return {
        "name": shop.name,
        "address": shop.address,
        "phone": shop.phone,
        "email": shop.email,
        "tax_id": shop.tax_id,
    }


def customer_details(customer):
    if customer is None:
        return None
    city_line = " ".join(
        part for part in (customer.city, customer.region, customer.postal_code) if part
    )
    return {
        "name": customer.display_name,
        "address": "\n".join(line for line in (customer.address_line, city_line) if line),
        "phone": customer.phone,
        "email": customer.email,
        "tax_id": customer.tax_id,
    }


def vehicle_details(vehicle, odometer_in=None):
    description = " ".join(
        str(part) for part in (vehicle.model_year, vehicle.make, vehicle.model) if part
    )
    return {
        "vin": vehicle.vin,
        "description": description,
        "plate": vehicle.plate,
        "odometer_in": odometer_in,
    }


def _job_entry(job):
    return {
        "id": job.pk,
        "position": job.position,
        "title": job.title,
        "complaint": job.complaint,
        "cause": job.cause,
        "correction": job.correction,
        "authorization": job.authorization,
        "authorization_label": job.get_authorization_display(),
        "labor": [
            {
                "operation": line.operation,
                "hours": hours_text(line.hours_sold),
                "rate": str(line.rate),
                "amount": str(line.amount),
                "technician": str(line.technician) if line.technician else "",
            }
            for line in job.labor_lines.all()
        ],
        "parts": [
            {
                "sku": line.part.sku,
                "description": line.part.description,
                "quantity": line.quantity,
                "price": str(line.price),
                "amount": str(line.amount),
                "taxable": line.taxable,
            }
            for line in job.part_lines.all()
        ],
    }


def decision_text(job, *, when=False):
    """A job's decision as read on its order: "Approved by Grace Hopper, online (estimate
    link)"; an internal order's job is released for work, not approved by a customer."""
    if job.authorization == Authorization.PENDING:
        return job.get_authorization_display()
    moment = (
        f", {timezone.localtime(job.authorized_at):%Y-%m-%d %H:%M}"
        if when and job.authorized_at
        else ""
    )
    if job.authorization_method == AuthorizationMethod.INTERNAL:
        verb = "Released for work" if job.authorization == Authorization.APPROVED else "Declined"
        return f"{verb} by {job.authorized_by} (internal order){moment}"
    return (
        f"{job.get_authorization_display()} by {job.authorized_by}, "
        f"{job.get_authorization_method_display().lower()}{moment}"
    )


def build_document(repair_order, shop, *, rates=None, totals=None):
    """The printable content of an order (its estimate, or the invoice being written)."""
    rates = rates or Rates.from_settings(shop)
    totals = totals or order_totals(repair_order, rates)
    declined = [
        job for job in repair_order.jobs.all() if job.authorization == Authorization.DECLINED
    ]
    return {
        "shop": shop_details(shop),
        "customer": customer_details(repair_order.customer),
        "vehicle": vehicle_details(repair_order.vehicle, repair_order.odometer_in),
        "repair_order": {
            "number": repair_order.number,
            "opened_at": timezone.localtime(repair_order.opened_at).isoformat(),
            "advisor": str(repair_order.advisor) if repair_order.advisor else "",
            "internal": repair_order.internal,
            "discount_percent": str(repair_order.discount_percent),
        },
        "jobs": [_job_entry(job) for job in counted_jobs(repair_order)],
        "recommendations": [{"title": job.title, "complaint": job.complaint} for job in declined],
        "rates": rates.as_dict(),
        "totals": totals.as_dict(),
    }
