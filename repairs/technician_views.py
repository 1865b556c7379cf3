"""The technician's own screen in the back office (/admin/my-jobs/): the jobs of the day, what
they are clocked on with the time running, one click to clock on or off, each job's complaint,
notes and parts. No price, rate, amount or cost is read into it, whoever opens it.

Only the Technician role opens it (repairs.use_technician_screen); technicians land on it after
logging in (back_office_home).
"""

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_POST

from accounts.locations import selected_location_ids
from repairs import services, workload
from repairs.choices import RepairOrderStatus
from repairs.exceptions import RepairError

SCREEN_PERMISSION = services.TECHNICIAN_PERMISSION


def lands_on_technician_screen(user):
    """Technicians start their day on their screen; everyone else on the back office's home."""
    return user.is_active and not user.is_superuser and user.has_perm(SCREEN_PERMISSION)


def back_office_home(request):
    """/admin/: the technician's screen for a technician, the admin's home page for the rest."""
    if lands_on_technician_screen(request.user):
        return redirect("technician:jobs")
    return admin.site.index(request)


def _require_screen(request):
    if not request.user.has_perm(SCREEN_PERMISSION):
        raise PermissionDenied("The technician's screen is for technicians.")


@require_GET
def my_jobs(request):
    _require_screen(request)
    user = request.user
    current = workload.open_time_entry(user)
    jobs = workload.technician_day(user, selected_location_ids(request))
    now = timezone.now()
    today = timezone.localdate(now)
    rows = [
        {
            "job": job,
            "order": job.repair_order,
            "mine": job.mine,
            "clocked_here": current is not None and current.job_id == job.pk,
            "startable": job.repair_order.status == RepairOrderStatus.IN_PROGRESS,
            "overdue": job.repair_order.promised_at is not None
            and job.repair_order.promised_at < now,
            "due_today": job.repair_order.promised_at is not None
            and timezone.localdate(job.repair_order.promised_at) == today,
        }
        for job in jobs
    ]
    context = {
        **admin.site.each_context(request),
        "title": "My jobs",
        "rows": rows,
        "current": current,
        "running_seconds": int((now - current.started).total_seconds()) if current else 0,
        "now": now,
        "limit": workload.JOBS_SHOWN,
        # The rest of the back office they may open (their jobs list, time entries, vehicles,
        # parts): this screen is their home page.
        "app_list": admin.site.get_app_list(request),
    }
    return TemplateResponse(request, "repairs/technician/my_jobs.html", context)


@require_POST
def clock_on(request, job_id):
    _require_screen(request)
    job = workload.technician_jobs(request.user).filter(pk=job_id).first()
    if job is None:
        raise Http404("No such job on your screen.")
    try:
        services.clock_in(request.user, job)
    except RepairError as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, f"Clocked on {job.repair_order.number} job {job}.")
    return redirect("technician:jobs")


@require_POST
def clock_off(request):
    _require_screen(request)
    try:
        entry = services.clock_out(request.user)
    except RepairError as exc:
        messages.error(request, str(exc))
    else:
        messages.success(
            request,
            f"Clocked off {entry.job.repair_order.number} job {entry.job}: {entry.hours} h.",
        )
    return redirect("technician:jobs")
