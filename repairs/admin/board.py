"""The advisors' status board: open orders by status, oldest first, with what each waits for
(the customer's approval, parts) and who works on its jobs; an advisor assigns a job to a
technician from the board.

The query count is fixed: one count, one list per status, then the shown orders' jobs and their
labor lines in two queries, and the technicians once.
"""

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.db.models import Count, Prefetch, prefetch_related_objects
from django.http import HttpResponseNotAllowed
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.utils import timezone

from accounts.locations import selected_location_ids
from accounts.models import User
from accounts.roles import TECHNICIAN
from repairs import services
from repairs.admin.common import staff_choices
from repairs.choices import OPEN_STATUSES, Authorization, RepairOrderStatus
from repairs.exceptions import RepairError
from repairs.models import Job, LaborLine
from repairs.workload import WORKABLE_STATUSES, with_waiting_states

COLUMN_LIMIT = 50
# Who may assign a job: whoever may change its labor lines (the technician is on them).
ASSIGN_PERMISSIONS = ("repairs.change_repairorder", "repairs.change_laborline")


def may_assign(request):
    return request.user.has_perms(ASSIGN_PERMISSIONS)


def _technicians(job):
    names = []
    for line in job.labor_lines.all():
        if line.technician is not None and str(line.technician) not in names:
            names.append(str(line.technician))
    return names


def _assigned_id(job):
    ids = {line.technician_id for line in job.labor_lines.all()}
    return ids.pop() if len(ids) == 1 else None


def board_view(model_admin, request):
    """Open orders by status, oldest first: what waits for whom."""
    if not model_admin.has_view_permission(request):
        raise PermissionDenied
    # The location chosen in the header (or all of the user's).
    orders = model_admin.get_queryset(request).filter(location__in=selected_location_ids(request))
    counts = dict(
        orders.filter(status__in=OPEN_STATUSES)
        .values_list("status")
        .annotate(n=Count("id"))
        .order_by()
    )
    queryset = with_waiting_states(orders.select_related("customer", "vehicle", "advisor"))
    columns = [
        {
            "status": RepairOrderStatus(status).label,
            "count": counts.get(status, 0),
            "orders": list(
                queryset.filter(status=status).order_by("opened_at", "id")[:COLUMN_LIMIT]
            ),
            "workable": status in WORKABLE_STATUSES,
        }
        for status in OPEN_STATUSES
    ]
    workable = [order for column in columns if column["workable"] for order in column["orders"]]
    prefetch_related_objects(
        workable,
        Prefetch(
            "jobs",
            Job.objects.filter(authorization=Authorization.APPROVED).prefetch_related(
                Prefetch("labor_lines", LaborLine.objects.select_related("technician"))
            ),
            to_attr="approved_jobs",
        ),
    )
    for order in workable:
        for job in order.approved_jobs:
            job.technician_names = _technicians(job)
            job.assigned_id = _assigned_id(job)
            job.has_labor = bool(job.labor_lines.all())
    context = {
        **model_admin.admin_site.each_context(request),
        "title": "Repair order board",
        "opts": model_admin.model._meta,
        "columns": columns,
        "now": timezone.now(),
        "limit": COLUMN_LIMIT,
        "may_assign": may_assign(request),
        "technicians": (
            staff_choices(TECHNICIAN, selected_location_ids(request))[1:]
            if may_assign(request)
            else []
        ),
    }
    return TemplateResponse(request, "admin/repairs/status_board.html", context)


def assign_view(model_admin, request):
    """Assign a job to a technician (or take it back) and go back to the board."""
    if request.method != "POST":
        return HttpResponseNotAllowed(["POST"])
    if not may_assign(request):
        raise PermissionDenied
    job_id, technician_id = request.POST.get("job", ""), request.POST.get("technician", "")
    job = (
        Job.objects.filter(pk=job_id, repair_order__in=model_admin.get_queryset(request))
        .select_related("repair_order")
        .first()
        if job_id.isdigit()
        else None
    )
    technician = User.objects.filter(pk=technician_id).first() if technician_id.isdigit() else None
    if job is None or (technician_id and technician is None):
        messages.error(request, "That job or technician is no longer there; nothing changed.")
        return redirect("admin:repairs_repairorder_board")
    try:
        services.assign_job(job, technician, user=request.user)
    except RepairError as exc:
        messages.error(request, str(exc))
    else:
        who = f"to {technician}" if technician else "back to nobody (any technician)"
        messages.success(request, f"{job.repair_order.number} job {job} assigned {who}.")
    return redirect("admin:repairs_repairorder_board")
