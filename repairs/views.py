"""Views of the service shop outside the admin's own pages.

- customer_estimate: the page a customer opens from a signed link to approve or decline jobs.
- print and PDF views of estimates and invoices, served under the admin (see RepairOrderAdmin and
  InvoiceAdmin get_urls) for staff who may see customer prices.
"""

from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods

from accounts.models import ShopSettings
from repairs import links, pdf, services
from repairs.choices import Authorization, AuthorizationMethod, RepairOrderStatus
from repairs.documents import build_document, load_order
from repairs.exceptions import RepairError
from repairs.models import RepairOrder

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
    repair_order = links.repair_order_for_token(token)
    if repair_order is None:
        return _unavailable(request)
    error = ""
    if request.method == "POST":
        job_id = request.POST.get("job", "")
        job = repair_order.jobs.filter(pk=job_id).first() if job_id.isdigit() else None
        decision = request.POST.get("decision")
        if job is None or decision not in (Authorization.APPROVED, Authorization.DECLINED):
            return _unavailable(request)
        try:
            services.authorize_job(
                job,
                decision,
                method=AuthorizationMethod.ONLINE,
                # How (online) is the decision's method, shown next to the name.
                authorized_by=str(repair_order.customer),
                only_pending=True,
            )
            _approve_when_all_decided(repair_order)
        except RepairError as exc:
            error = str(exc)
        else:
            return redirect(request.path)
    document = build_document(load_order(repair_order.pk), ShopSettings.of(repair_order.location))
    response = render(
        request,
        "repairs/customer_estimate.html",
        {
            "document": document,
            "pending_count": sum(
                1 for job in document["jobs"] if job["authorization"] == Authorization.PENDING
            ),
            "error": error,
        },
    )
    return _private(response)


def _approve_when_all_decided(repair_order):
    """Once the customer has decided every job online and approved one, the estimate is
    approved: the shop may order parts and schedule the work."""
    jobs = repair_order.jobs.all()
    if (
        RepairOrder.objects.filter(pk=repair_order.pk, status=RepairOrderStatus.ESTIMATE).exists()
        and not jobs.filter(authorization=Authorization.PENDING).exists()
        and jobs.filter(authorization=Authorization.APPROVED).exists()
    ):
        services.approve_repair_order(repair_order)


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
    document = build_document(order, ShopSettings.of(order.location))
    return {
        "document": document,
        "kind": "Internal order" if order.internal else "Estimate",
        "number": order.number,
        "date": timezone.localtime(order.opened_at),
        "status": order.get_status_display(),
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
