"""Views of the service shop outside the admin's own pages.

- customer_estimate: the page a customer opens from a signed link to see the inspection with its
  photos, decline jobs, and approve the others by signing with their typed name; once the order
  is past the customer's decisions, the same link says what was decided;
  customer_inspection_media: a photo or video of that order's inspection, through the same link.
- print and PDF views of estimates and invoices, served under the admin (see RepairOrderAdmin and
  InvoiceAdmin get_urls) for staff who may see customer prices.
"""

from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_safe

from accounts.models import ShopSettings
from carshop.clientip import client_ip
from inventory.views import send_private_file
from repairs import inspections, links, pdf, services
from repairs.choices import Authorization, AuthorizationMethod
from repairs.documents import (
    build_document,
    decision_text,
    load_order,
    shop_details,
    vehicle_details,
)
from repairs.exceptions import RepairError
from repairs.models import EstimateSignature, InspectionItem, InspectionMedia, RepairOrder

# Who may print documents with customer prices: the people who handle customers' money.
PRINT_PERMISSION = "repairs.view_invoice"


def _private(response):
    response["Cache-Control"] = "no-store"
    response["X-Robots-Tag"] = "noindex, nofollow"
    # The token in this page's address is the customer's key: no other site may learn it from a
    # Referer. "same-origin" sends no Referer to other sites, yet lets the browser name this
    # site as the Origin of the page's own Approve and Decline posts; "no-referrer" made
    # Chromium send "Origin: null", which Django's CSRF check rightly refuses.
    response["Referrer-Policy"] = "same-origin"
    return response


def _unavailable(request):
    """One answer for every bad link (tampered, expired, unknown, or no longer open), so a
    visitor learns nothing about which it was."""
    return _private(render(request, "repairs/estimate_unavailable.html", status=404))


@never_cache
@require_http_methods(["GET", "POST"])
def customer_estimate(request, token):
    repair_order = links.order_for_token(token)
    if repair_order is None:
        return _unavailable(request)
    if not links.takes_decisions(repair_order):
        return _estimate_answered(request, repair_order)
    error = ""
    signed_name = ""
    if request.method == "POST":
        try:
            if request.POST.get("action") == "sign":
                signed_name = request.POST.get("signed_name", "")
                inspections.sign_estimate(
                    repair_order,
                    job_ids=_job_ids(request.POST.getlist("approve")),
                    name=signed_name,
                    client_ip=client_ip(request),
                )
            else:
                _decline(request, repair_order)
        except _BadPost:
            return _unavailable(request)
        except RepairError as exc:
            error = str(exc)
        else:
            return redirect(request.path)
    document_order = load_order(repair_order.pk)
    document = build_document(document_order, ShopSettings.of(repair_order.location_id))
    findings = _inspection_findings(repair_order, token)
    for job in document["jobs"]:
        job["findings"] = findings["by_job"].get(job["id"], [])
    response = render(
        request,
        "repairs/customer_estimate.html",
        {
            "document": document,
            "number": repair_order.number,
            "vehicle": document["vehicle"]["description"],
            "shop": document["shop"],
            "pending_count": sum(
                1 for job in document["jobs"] if job["authorization"] == Authorization.PENDING
            ),
            "inspections": findings["inspections"],
            "decisions": _decisions(document_order),
            "signatures": list(repair_order.signatures.all()),
            "signed_name": signed_name,
            "error": error,
        },
    )
    return _private(response)


def _estimate_answered(request, repair_order):
    """The page of a genuine link to an order past the point of customer decisions (the work
    is done, invoiced, or the order closed): what was decided on each job and when, and that
    nothing is left to approve. It shows what the estimate page showed, less: no prices of
    jobs, no photos, no buttons. A post changes nothing and says so."""
    order = load_order(repair_order.pk)
    response = render(
        request,
        "repairs/estimate_answered.html",
        {
            "number": order.number,
            "vehicle": vehicle_details(order.vehicle)["description"],
            "shop": shop_details(ShopSettings.of(order.location_id)),
            "decisions": _decisions(order),
            "signatures": list(order.signatures.all()),
            "error": (
                "Nothing was changed: this estimate has no job left to approve or decline."
                if request.method == "POST"
                else ""
            ),
        },
    )
    return _private(response)


def _decisions(order):
    """Each job the customer has decided, in the order's job order, as its page reads it:
    "Approved by Grace Hopper, online (estimate link), 2026-03-02 09:14" (jobs as load_order
    prefetched them: no query)."""
    return [
        {
            "position": job.position,
            "title": job.title,
            "authorization": job.authorization,
            "text": decision_text(job, when=True),
        }
        for job in order.jobs.all()
        if job.authorization != Authorization.PENDING
    ]


class _BadPost(Exception):
    """A post no page of ours makes: answered like a bad link."""


def _job_ids(values):
    if not all(value.isdigit() and len(value) < 12 for value in values):
        raise _BadPost
    return [int(value) for value in values]


def _decline(request, repair_order):
    job_id = request.POST.get("job", "")
    job = repair_order.jobs.filter(pk=job_id).first() if job_id.isdigit() else None
    decision = request.POST.get("decision")
    if job is None or decision not in (Authorization.APPROVED, Authorization.DECLINED):
        raise _BadPost
    if decision == Authorization.APPROVED:
        raise RepairError("To approve a job, tick it and sign with your name below.")
    services.authorize_job(
        job,
        decision,
        method=AuthorizationMethod.ONLINE,
        # How (online) is the decision's method, shown next to the name.
        authorized_by=services.customer_decision_name(repair_order),
        only_pending=True,
    )
    inspections.approve_when_all_decided(repair_order)


def _inspection_findings(repair_order, token):
    """The order's inspection points that were rated, with their photos and videos, by
    inspection and by the job each became (two queries, whatever their number)."""
    items = (
        InspectionItem.objects.filter(inspection__repair_order=repair_order)
        .exclude(rating="")
        .select_related("inspection")
        .prefetch_related("media")
        .order_by("inspection__started_at", "inspection_id", "position")
    )
    by_job, by_inspection = {}, {}
    for item in items:
        entry = {
            "label": item.label,
            "section": item.section,
            "rating": item.rating,
            "rating_label": item.get_rating_display(),
            "measurement": item.measurement,
            "measurement_label": item.get_measurement_kind_display(),
            "notes": item.notes,
            "in_job": item.job_id is not None,
            "media": [
                {
                    "kind": shot.kind,
                    "content_type": shot.content_type,
                    "url": reverse("repairs:customer_media", args=[token, shot.pk]),
                    "width": shot.width,
                    "height": shot.height,
                }
                for shot in item.media.all()
            ],
        }
        by_inspection.setdefault(item.inspection_id, {"name": item.inspection.name, "items": []})
        by_inspection[item.inspection_id]["items"].append(entry)
        if item.job_id is not None:
            by_job.setdefault(item.job_id, []).append(entry)
    return {"by_job": by_job, "inspections": list(by_inspection.values())}


@never_cache
@require_safe
def customer_inspection_media(request, token, media_id):
    """A photo or video of the inspection of the order the link is for; any other is not
    found, like a bad link."""
    repair_order = links.repair_order_for_token(token)
    if repair_order is None:
        return _unavailable(request)
    shot = InspectionMedia.objects.filter(
        pk=media_id, item__inspection__repair_order=repair_order
    ).first()
    if shot is None:
        return _unavailable(request)
    response = send_private_file(shot.file)
    response["Referrer-Policy"] = "same-origin"
    response["X-Robots-Tag"] = "noindex, nofollow"
    return response


# --------------------------------------------------------------------------------------------
# Printing
# --------------------------------------------------------------------------------------------


def _require_print_permission(request):
    if not request.user.has_perm(PRINT_PERMISSION):
        raise PermissionDenied


def _document_or_404(queryset, pk):
    """The order or invoice `pk` names, or a 404: a typed URL (`15/change`, `abc`, digits too
    many for the id column) is a page that does not exist, never a server error."""
    try:
        return queryset.get(pk=int(pk))
    except (queryset.model.DoesNotExist, ValueError, TypeError, ValidationError, OverflowError):
        raise Http404(f"No {queryset.model._meta.verbose_name} {pk}.") from None


def estimate_context(repair_order_pk, queryset):
    """What an estimate's print and PDF show; a 404 for an order `queryset` does not hold."""
    try:
        order = load_order(int(repair_order_pk), queryset)
    except (RepairOrder.DoesNotExist, ValueError, TypeError, ValidationError, OverflowError):
        raise Http404(f"No repair order {repair_order_pk}.") from None
    document = build_document(order, ShopSettings.of(order.location_id))
    return {
        "document": document,
        "kind": "Internal order" if order.internal else "Estimate",
        "number": order.number,
        "date": timezone.localtime(order.opened_at),
        "status": order.get_status_display(),
        "signatures": [pdf.signature_text(signature) for signature in order.signatures.all()],
    }


def invoice_context(invoice):
    balance = services.invoice_balance(invoice)
    document = invoice.snapshot
    return {
        "document": document,
        "kind": "Invoice",
        "number": invoice.number,
        "date": timezone.localtime(invoice.issued_at),
        "repair_order_number": document["repair_order"]["number"],
        "opened_at": parse_datetime(document["repair_order"]["opened_at"]),
        "balance": balance,
        "credit_notes": list(invoice.credit_notes.all()),
        "payments": list(invoice.payments.all()),
        "signatures": [
            pdf.signature_text(signature)
            for signature in EstimateSignature.objects.filter(repair_order=invoice.repair_order_id)
        ],
    }


def print_estimate(request, pk, queryset):
    _require_print_permission(request)
    context = estimate_context(pk, queryset)
    return render(request, "repairs/print/document.html", context)


def estimate_pdf(request, pk, queryset):
    _require_print_permission(request)
    context = estimate_context(pk, queryset)
    return _pdf_response(pdf.render_document(context), f"estimate-{context['number']}.pdf")


def print_invoice(request, pk, queryset):
    _require_print_permission(request)
    invoice = _document_or_404(queryset, pk)
    return render(request, "repairs/print/document.html", invoice_context(invoice))


def invoice_pdf(request, pk, queryset):
    _require_print_permission(request)
    invoice = _document_or_404(queryset, pk)
    context = invoice_context(invoice)
    return _pdf_response(pdf.render_document(context), f"invoice-{invoice.number}.pdf")


def _pdf_response(content, filename):
    response = HttpResponse(content, content_type="application/pdf")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response
