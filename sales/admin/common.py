"""What the car lot's admin pages share: the confirm-then-apply action page, amounts,
salespeople."""

from django.contrib.admin import helpers
from django.db.models import Q
from django.template.response import TemplateResponse

from accounts import roles
from accounts.models import ShopSettings, User
from core.admin_actions import run_for_each
from sales.forms import (
    ConfirmForm,
)

ACTION_FORM_TEMPLATE = "admin/sales/action_form.html"


def amount_text(value):
    return "—" if value is None else f"{value:,.2f}"


def run_action(
    modeladmin,
    request,
    queryset,
    *,
    title,
    explanation,
    submit_label,
    apply,
    form_class=ConfirmForm,
    done="{count} done.",
):
    """An action that first asks (a reason, a price, or just a confirmation), then calls `apply`
    for each selected object and reports each refusal with its message."""
    form = form_class(request.POST if request.POST.get("apply") else None)
    if form.is_bound and form.is_valid():
        run_for_each(
            modeladmin,
            request,
            queryset,
            lambda obj: apply(obj, **form.cleaned_data),
            summary=lambda applied: done.format(count=len(applied)),
        )
        return None
    context = {
        **modeladmin.admin_site.each_context(request),
        "title": title,
        "explanation": explanation,
        "submit_label": submit_label,
        "objects": list(queryset),
        "form": form,
        "opts": modeladmin.model._meta,
        "action_name": request.POST.get("action"),
        "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
        "back_url": request.get_full_path(),
        "media": modeladmin.media + form.media,
    }
    return TemplateResponse(request, ACTION_FORM_TEMPLATE, context)


def aging_threshold(request):
    """The shop's aging threshold, read once per request."""
    if not hasattr(request, "_lot_aging_threshold"):
        request._lot_aging_threshold = ShopSettings.current().aging_threshold_days
    return request._lot_aging_threshold


def salespeople():
    return (
        User.objects.filter(is_active=True, is_staff=True)
        .filter(Q(groups__name__in=[roles.SALESPERSON, roles.MANAGER]) | Q(is_superuser=True))
        .distinct()
        .order_by("first_name", "last_name", "username")
    )
