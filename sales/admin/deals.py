"""Deals: terms while a draft, the steps of the sale, payments and refunds, the figures."""

import dataclasses

from django.contrib import admin, messages
from django.core.exceptions import NON_FIELD_ERRORS, PermissionDenied
from django.db.models import BooleanField, Exists, ExpressionWrapper, OuterRef, Prefetch, Q
from django.http import Http404, HttpResponseRedirect, JsonResponse
from django.template.loader import render_to_string
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html

from accounts.admin_exports import RoleExportMixin
from accounts.locations import LocationScopedAdmin, allowed_location_ids, location_count
from accounts.models import Customer, ShopSettings
from core.admin import (
    AddOnlyMixin,
    CarshopModelAdmin,
    EditableWhileParentAllows,
    IndexedRelatedOnlyListFilter,
    PrefetchedInlineFormSet,
    ids_or_subquery,
)
from core.admin_actions import RefusalsAsMessages, run_service
from core.money import ZERO
from inventory.models import StockUnit, Vehicle
from sales import services, workflow
from sales.admin.common import (
    ACTION_FORM_TEMPLATE,
    amount_text,
    run_action,
    salespeople,
)
from sales.calculations import DealFigures
from sales.forms import (
    ConfirmForm,
    DealForm,
    ReasonForm,
)
from sales.models import (
    Commission,
    Deal,
    DealAddon,
    DealPayment,
    DealRefund,
    TradeIn,
)
from sales.resources import DealResource

# ---------------------------------------------------------------------------------------------
# Deals
# ---------------------------------------------------------------------------------------------

# The terms a deal's figures are made of (services.figures): figures_view reports what is wrong
# with these, and leaves the rest (the buyer, a trade-in's vehicle) to saving.
FIGURE_FIELDS = {
    Deal: {
        "stock_unit",
        "sale_price",
        "documentation_fee",
        "registration_fee",
        "down_payment",
        "lender",
        "apr",
        "term_months",
        "finance_reserve",
    },
    TradeIn: {"allowance", "payoff", "actual_cash_value"},
    DealAddon: {"price", "cost", "taxable"},
}
# The figures figures_view returns by name, besides the panel's HTML (calculations.DealFigures).
FIGURE_NAMES = (*(f.name for f in dataclasses.fields(DealFigures)), "total_gross")


def _json_amount(value):
    return None if value is None else f"{value:.2f}"


class DraftOnlyInline(EditableWhileParentAllows, admin.TabularInline):
    """Rows that are part of what the buyer signs: editable while the deal is a draft."""

    extra = 0

    def parent_editable(self, obj):
        return obj is None or obj.is_draft


class TradeInInline(DraftOnlyInline):
    model = TradeIn
    formset = PrefetchedInlineFormSet  # the trade-ins the deal's figures were computed from
    fields = (
        "vehicle",
        "odometer",
        "allowance",
        "payoff",
        "payoff_lender",
        "actual_cash_value",
        "stock_unit_link",
    )
    readonly_fields = ("stock_unit_link",)
    autocomplete_fields = ("vehicle",)

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("vehicle", "stock_unit")

    @admin.display(description="Stock unit")
    def stock_unit_link(self, obj):
        if obj.stock_unit_id is None:
            return "On delivery"
        return format_html(
            '<a href="{}">{}</a>',
            reverse("admin:inventory_stockunit_change", args=[obj.stock_unit_id]),
            obj.stock_unit.stock_number,
        )


class DealAddonInline(DraftOnlyInline):
    model = DealAddon
    formset = PrefetchedInlineFormSet  # the add-ons the deal's figures were computed from
    fields = ("kind", "description", "price", "cost", "taxable")


class DealPaymentInline(AddOnlyMixin, admin.TabularInline):
    """Payments are money received: added (through the service), never edited or deleted."""

    model = DealPayment
    formset = PrefetchedInlineFormSet  # the payments the figures panel adds up
    extra = 0
    fields = ("received_at", "amount", "method", "reference", "received_by")
    readonly_fields = ("received_by",)

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("received_by")

    def has_add_permission(self, request, obj=None):
        open_deal = obj is None or obj.status in (Deal.Status.DRAFT, Deal.Status.SIGNED)
        return open_deal and super().has_add_permission(request, obj)

    def get_formset(self, request, obj=None, **kwargs):
        formset = super().get_formset(request, obj, **kwargs)
        formset.form.base_fields["received_at"].initial = timezone.now
        return formset


class DealRefundInline(AddOnlyMixin, admin.TabularInline):
    """Money given back once a deal is canceled or unwound: added (through the service, which
    caps refunds at the payments received), never edited or deleted."""

    model = DealRefund
    formset = PrefetchedInlineFormSet  # the refunds the figures panel adds up
    extra = 0
    fields = ("refunded_at", "amount", "method", "reference", "refunded_by")
    readonly_fields = ("refunded_by",)

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("refunded_by")

    def has_add_permission(self, request, obj=None):
        fell_through = obj is not None and obj.status in services.REFUNDABLE
        return fell_through and super().has_add_permission(request, obj)

    def get_formset(self, request, obj=None, **kwargs):
        formset = super().get_formset(request, obj, **kwargs)
        formset.form.base_fields["refunded_at"].initial = timezone.now
        return formset


class CommissionInline(admin.TabularInline):
    model = Commission
    extra = 0
    fields = ("recorded_at", "salesperson", "kind", "plan_name", "gross", "rate", "amount")
    readonly_fields = fields
    can_delete = False

    def get_queryset(self, request):
        queryset = super().get_queryset(request).select_related("salesperson")
        if not request.user.has_perm(services.ALL_COMMISSIONS):
            queryset = queryset.filter(salesperson=request.user)
        return queryset

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


# The steps of sales.workflow.STEPS as the admin offers them; which show for a deal is the
# workflow's business (steps_from).
DEAL_STEPS = {
    # name: (label, service call, needs a reason, permission)
    "sign": ("Sign", lambda deal, **_: services.sign_deal(deal), False, "change"),
    "deliver": ("Deliver", lambda deal, **_: services.deliver_deal(deal), False, "change"),
    "cancel": (
        "Cancel",
        lambda deal, reason: services.cancel_deal(deal, reason=reason),
        True,
        "change",
    ),
    "unwind": (
        "Unwind",
        lambda deal, reason: services.unwind_deal(deal, reason=reason),
        True,
        "unwind",
    ),
}
STEP_EXPLANATIONS = {
    "sign": "The buyer signed: the figures are frozen and the stock unit is reserved.",
    "deliver": "The buyer takes the car: the unit is sold, trade-ins enter stock at their actual "
    "cash value, the gross is frozen and the commission recorded.",
    "cancel": "The deal falls through; a reserved unit goes back on sale.",
    "unwind": "The sale is taken back: the unit returns to stock, trade-ins go back to their "
    "owner and the commission is charged back.",
}


@admin.register(Deal)
class DealAdmin(LocationScopedAdmin, RoleExportMixin, RefusalsAsMessages, CarshopModelAdmin):
    """A deal belongs to the lot its stock unit stands on: in a group, the list shows the lots
    chosen in the header, and a deal or unit of a lot the user does not work at is not found."""

    location_field = "stock_unit__location"
    export_resource_class = DealResource
    form = DealForm
    list_display = (
        "number_column",
        "unit_column",
        "buyer",
        "salesperson",
        "price_column",
        "gross_column",
        "date_column",
    )
    list_display_links = ("number_column", "unit_column")
    list_filter = (
        "status",
        ("salesperson", IndexedRelatedOnlyListFilter),
        "delivered_at",
        "lead__source",
    )
    list_select_related = ("stock_unit__vehicle", "buyer", "salesperson")
    search_fields = (
        "buyer__display_name",
        "co_buyer__display_name",
        "buyer__phone",
        "stock_unit__stock_number",
    )
    search_help_text = "Deal number (D-123), buyer, stock number or VIN."
    autocomplete_fields = ("stock_unit", "buyer", "co_buyer", "lead")
    inlines = (
        TradeInInline,
        DealAddonInline,
        DealPaymentInline,
        DealRefundInline,
        CommissionInline,
    )
    actions = tuple(workflow.STEPS)

    class Media:
        js = ["admin/js/jquery.init.js", "sales/admin/deal_figures.js"]

    fieldsets = (
        (None, {"fields": ("status", "stock_unit", "buyer", "co_buyer", "salesperson", "lead")}),
        (
            "Price",
            {"fields": ("sale_price", "documentation_fee", "registration_fee", "down_payment")},
        ),
        ("Financing", {"fields": ("lender", "apr", "term_months", "finance_reserve")}),
        ("Figures", {"fields": ("figures_panel",)}),
        ("History", {"fields": ("signed_at", "delivered_at", "closed_at", "close_reason")}),
        ("Notes", {"fields": ("notes",)}),
    )
    readonly_fields = (
        "status",
        "figures_panel",
        "signed_at",
        "delivered_at",
        "closed_at",
        "close_reason",
    )
    terms_fields = (
        "stock_unit",
        "buyer",
        "co_buyer",
        "salesperson",
        "lead",
        "sale_price",
        "documentation_fee",
        "registration_fee",
        "down_payment",
        "lender",
        "apr",
        "term_months",
        "finance_reserve",
    )

    def get_readonly_fields(self, request, obj=None):
        fields = list(super().get_readonly_fields(request, obj))
        if obj is not None and not obj.is_draft:
            fields += self.terms_fields
        return fields

    def delete_refusal(self, obj):
        return services.deal_deletion_refusal(obj)

    def get_fieldsets(self, request, obj=None):
        if obj is None:
            return [fs for fs in self.fieldsets if fs[0] != "History"]
        return self.fieldsets

    def get_changeform_initial_data(self, request):
        shop = ShopSettings.current()
        return {
            "salesperson": request.user.pk,
            "documentation_fee": shop.documentation_fee,
            "registration_fee": shop.registration_fee,
            **super().get_changeform_initial_data(request),
        }

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.name == "salesperson":
            kwargs["queryset"] = salespeople()
        if db_field.name == "stock_unit" and location_count() > 1:
            kwargs["queryset"] = StockUnit.objects.filter(
                location__in=allowed_location_ids(request.user)
            )
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def get_search_results(self, request, queryset, search_term):
        number = search_term.strip().upper()
        if number.startswith("D") and number.removeprefix("D-").removeprefix("D").isdigit():
            return queryset.filter(pk=int(number.removeprefix("D-").removeprefix("D"))), False
        term = search_term.strip()
        if not term:
            return queryset, False
        # The buyers (name, phone, email) and the units (stock number, VIN, plate) are found
        # first, each with its own indexes; the deals then by their foreign keys. A name is
        # looked for among buyers only, a VIN or stock number among units only.
        # A bare number may be a deal number, the end of a VIN or part of a phone number.
        condition = Q(pk=int(term)) if term.isdigit() and len(term) < 10 else Q(pk__in=[])
        digits = sum(char.isdigit() for char in term)
        phone = digits >= 3 and all(char.isdigit() or char in "()+-./ " for char in term)
        if not digits or phone:
            # Only customers who are on a deal: a common surname matches hundreds of customers,
            # most of whom never bought a car, and the deals of the few who did are then found
            # through the buyer and co-buyer indexes rather than by reading every deal. One
            # EXISTS with both conditions: two, joined by OR, PostgreSQL may each answer by
            # hashing every deal (two reads of the table for a name such as "smith").
            on_a_deal = Exists(
                Deal.objects.filter(Q(buyer=OuterRef("pk")) | Q(co_buyer=OuterRef("pk")))
            )
            buyers = ids_or_subquery(Customer.objects.search(term).filter(on_a_deal))
            condition |= Q(buyer__in=buyers) | Q(co_buyer__in=buyers)
        if digits:
            vehicles = ids_or_subquery(Vehicle.objects.search(term, owners=False))
            units = StockUnit.objects.filter(
                Q(stock_number__icontains=term) | Q(vehicle__in=vehicles)
            )
            condition |= Q(stock_unit__in=ids_or_subquery(units))
        return queryset.filter(condition), False

    def save_model(self, request, obj, form, change):
        if not change:
            services.open_deal(obj)
        elif obj.is_draft:
            services.update_draft(obj)
        else:
            obj.save(update_fields=["notes", "updated_at"])

    def save_formset(self, request, form, formset, change):
        if formset.model not in (DealPayment, DealRefund):
            return super().save_formset(request, form, formset, change)
        for row in formset.save(commit=False):
            if isinstance(row, DealPayment):
                run_service(
                    self,
                    request,
                    services.record_payment,
                    form.instance,
                    amount=row.amount,
                    method=row.method,
                    reference=row.reference,
                    received_at=row.received_at,
                    user=request.user,
                )
            else:
                run_service(
                    self,
                    request,
                    services.record_refund,
                    form.instance,
                    amount=row.amount,
                    method=row.method,
                    reference=row.reference,
                    refunded_at=row.refunded_at,
                    user=request.user,
                )
        return None

    def get_queryset(self, request):
        """The deals, marked `gross_hidden` where the user may not see the cost and gross
        (services.gross_hidden: another salesperson's deal)."""
        queryset = super().get_queryset(request)
        hidden = services.gross_hidden(request.user)
        if hidden is None:
            return queryset
        return queryset.annotate(
            gross_hidden=ExpressionWrapper(hidden, output_field=BooleanField())
        )

    def get_object(self, request, object_id, from_field=None):
        """The deal with what its page shows in one go (unit, vehicle, people; trade-ins, add-ons
        and payments, also read by the figures panel), once per request."""
        cached = getattr(request, "_carshop_deal", None)
        if cached is not None and cached[0] == object_id:
            return cached[1]
        queryset = (
            self.get_queryset(request)
            .select_related(
                "stock_unit__vehicle", "buyer", "co_buyer", "salesperson", "lead__customer"
            )
            .prefetch_related(
                Prefetch(
                    "trade_ins", queryset=TradeIn.objects.select_related("vehicle", "stock_unit")
                ),
                "addons",
                Prefetch("payments", queryset=DealPayment.objects.select_related("received_by")),
                Prefetch("refunds", queryset=DealRefund.objects.select_related("refunded_by")),
            )
        )
        try:
            deal = queryset.get(pk=object_id)
        except (Deal.DoesNotExist, ValueError, TypeError):
            deal = None
        request._carshop_deal = (object_id, deal)
        return deal

    def change_view(self, request, object_id, form_url="", extra_context=None):
        deal = self.get_object(request, object_id)
        steps = []
        if deal is not None:
            steps = [
                {"name": name, "label": DEAL_STEPS[name][0]}
                for name in workflow.steps_from(deal.status)
                if self._may(request, DEAL_STEPS[name][3])
            ]
        return super().change_view(
            request, object_id, form_url, {"deal_steps": steps, **(extra_context or {})}
        )

    def get_urls(self):
        info = self.opts.app_label, self.opts.model_name
        return [
            path(
                "figures/",
                self.admin_site.admin_view(self.figures_view),
                name="{}_{}_figures".format(*info),
            ),
            path(
                "<path:object_id>/figures/",
                self.admin_site.admin_view(self.figures_view),
                name="{}_{}_figures_of".format(*info),
            ),
            path(
                "<path:object_id>/buyers-order/",
                self.admin_site.admin_view(self.buyers_order_view),
                name="{}_{}_buyers_order".format(*info),
            ),
            path(
                "<path:object_id>/step/<slug:step>/",
                self.admin_site.admin_view(self.step_view),
                name="{}_{}_step".format(*info),
            ),
            *super().get_urls(),
        ]

    def buyers_order_view(self, request, object_id):
        deal = self.get_object(request, object_id)
        if deal is None:
            raise Http404("No such deal.")
        if not self.has_view_permission(request, deal):
            raise PermissionDenied
        deal = Deal.objects.select_related(
            "buyer", "co_buyer", "salesperson", "stock_unit__vehicle"
        ).get(pk=deal.pk)
        context = {
            "deal": deal,
            "shop": ShopSettings.current(),
            "f": services.figures(deal, unit_cost=0),
            "trade_ins": list(deal.trade_ins.select_related("vehicle")),
            "addons": list(deal.addons.all()),
            "paid": services.payments_received(deal),
            "order_date": (deal.signed_at or timezone.now()),
        }
        return TemplateResponse(request, "sales/buyers_order.html", context)

    def figures_view(self, request, object_id=None):
        """The figures of the deal as typed on its page, before it is saved (deal_figures.js).

        The page's form and its trade-in and add-on rows are checked as saving would check them;
        when the terms the figures are made of are right (FIGURE_FIELDS: a buyer not chosen yet
        does not matter here), services.preview_figures computes them. The answer is the figures
        panel, or the messages that say what is wrong. For whoever may write a deal up (a new
        deal) or change this draft."""
        if request.method != "POST":
            return JsonResponse(
                {"errors": ["The figures are asked with the deal's form."]}, status=405
            )
        deal = None
        if object_id is not None:
            deal = self.get_object(request, object_id)
            if deal is None:
                return JsonResponse({"errors": ["No such deal."]}, status=404)
            if not self.has_change_permission(request, deal):
                raise PermissionDenied
            if not deal.is_draft:
                status = deal.get_status_display().lower()
                return JsonResponse(
                    {"errors": [f"{deal.number} is {status}: its figures are set."]}
                )
        elif not self.has_add_permission(request):
            raise PermissionDenied
        if not request.POST.get("stock_unit"):
            return JsonResponse({"errors": ["Choose a stock unit to see the figures."]})
        form = self.get_form(request, deal, change=deal is not None)(
            request.POST, instance=deal or Deal()
        )
        form.is_valid()
        errors = self._figure_errors(form, FIGURE_FIELDS[Deal])
        rows = {}
        for formset_class, inline in self.get_formsets_with_inlines(request, deal):
            if inline.model not in (TradeIn, DealAddon):
                continue
            formset = formset_class(
                data=request.POST,
                instance=form.instance,
                prefix=formset_class.get_default_prefix(),
                queryset=inline.get_queryset(request),
            )
            formset.is_valid()
            errors += [str(message) for message in formset.non_form_errors()]
            name = inline.model._meta.verbose_name.capitalize()
            for index, row in enumerate(formset.forms, start=1):
                errors += self._figure_errors(
                    row, FIGURE_FIELDS[inline.model], where=f"{name} {index}, "
                )
            # Saved rows, and new ones with something typed, unless ticked for deletion.
            rows[inline.model] = [
                row.instance
                for row in formset.forms
                if row.cleaned_data and not row.cleaned_data.get("DELETE")
            ]
        if errors:
            return JsonResponse({"errors": errors})
        unsaved = form.instance
        try:
            f = services.preview_figures(unsaved, rows.get(TradeIn, []), rows.get(DealAddon, []))
        except services.DealError as exc:
            return JsonResponse({"errors": [str(exc)]})
        return JsonResponse(
            {
                "sale_price": f"{unsaved.sale_price:.2f}",
                "figures": {name: _json_amount(getattr(f, name)) for name in FIGURE_NAMES},
                "html": self._figures_html(unsaved, f),
            }
        )

    @staticmethod
    def _figure_errors(form, fields, where=""):
        """The form's errors on the terms the figures are made of, as sentences a person reads
        ("Sale price: ...", "Trade-in 1, allowance: ...")."""
        found = []
        for field, messages_ in form.errors.items():
            if field != NON_FIELD_ERRORS and field not in fields:
                continue
            name = str(form.fields[field].label) if field in form.fields else ""
            name = (name.lower() if where else name) + ": " if name else ""
            found += [f"{where}{name}{message}" for message in messages_]
        return found

    def step_view(self, request, object_id, step):
        deal = self.get_object(request, object_id)
        if deal is None or step not in DEAL_STEPS:
            raise Http404("No such deal or step.")
        label, call, needs_reason, perm = DEAL_STEPS[step]
        if not self._may(request, perm):
            raise PermissionDenied
        change_url = reverse("admin:sales_deal_change", args=[deal.pk])
        form_class = ReasonForm if needs_reason else ConfirmForm
        form = form_class(request.POST if request.method == "POST" else None)
        if form.is_bound and form.is_valid():
            ran, _ = run_service(self, request, call, deal, **form.cleaned_data)
            if ran:
                self.message_user(
                    request,
                    f"{deal.number} is now {deal.get_status_display().lower()}.",
                    messages.SUCCESS,
                )
                self._remind_of_money_held(request, deal)
            return HttpResponseRedirect(change_url)
        context = {
            **self.admin_site.each_context(request),
            "title": f"{label} {deal.number}",
            "explanation": STEP_EXPLANATIONS[step],
            "submit_label": label,
            "objects": [deal],
            "form": form,
            "opts": self.opts,
            "back_url": change_url,
            "media": self.media + form.media,
        }
        return TemplateResponse(request, ACTION_FORM_TEMPLATE, context)

    def _remind_of_money_held(self, request, deal):
        if deal.status in services.REFUNDABLE and (held := services.money_held(deal)) > 0:
            self.message_user(
                request,
                f"{deal.number} holds {held:,.2f} of the buyer's money: "
                "record the refund under Refunds.",
                messages.WARNING,
            )

    def _may(self, request, perm):
        return request.user.has_perm(f"sales.{perm}_deal")

    def has_unwind_permission(self, request):
        return self._may(request, "unwind")

    def _step_action(self, request, queryset, step):
        label, call, needs_reason, _ = DEAL_STEPS[step]

        def apply(deal, **data):
            call(deal, **data)
            self._remind_of_money_held(request, deal)

        return run_action(
            self,
            request,
            queryset,
            form_class=ReasonForm if needs_reason else ConfirmForm,
            title=f"{label} deals",
            explanation=STEP_EXPLANATIONS[step],
            submit_label=label,
            apply=apply,
            done="{count} deal(s): " + label.lower() + " done.",
        )

    @admin.action(description="Sign…", permissions=["change"])
    def sign(self, request, queryset):
        return self._step_action(request, queryset, "sign")

    @admin.action(description="Deliver…", permissions=["change"])
    def deliver(self, request, queryset):
        return self._step_action(request, queryset, "deliver")

    @admin.action(description="Cancel…", permissions=["change"])
    def cancel(self, request, queryset):
        return self._step_action(request, queryset, "cancel")

    @admin.action(description="Unwind…", permissions=["unwind"])
    def unwind(self, request, queryset):
        return self._step_action(request, queryset, "unwind")

    @admin.display(description="Deal", ordering="id")
    def number_column(self, obj):
        return format_html("{}<br><small>{}</small>", obj.number, obj.get_status_display())

    @admin.display(description="Stock unit", ordering="stock_unit__stock_number")
    def unit_column(self, obj):
        return format_html(
            "{}<br><small>{}</small>", obj.stock_unit.stock_number, obj.stock_unit.vehicle_label
        )

    @admin.display(description="Sale price", ordering="sale_price")
    def price_column(self, obj):
        return amount_text(obj.sale_price)

    @admin.display(description="Total gross")
    def gross_column(self, obj):
        if getattr(obj, "gross_hidden", False):
            return "—"
        return amount_text(obj.total_gross)

    @admin.display(description="Date", ordering="signed_at")
    def date_column(self, obj):
        moment, what = (
            (obj.delivered_at, "delivered")
            if obj.delivered_at
            else (obj.signed_at, "signed")
            if obj.signed_at
            else (obj.created_at, "written up")
        )
        return format_html(
            "{}<br><small>{}</small>", timezone.localtime(moment).date().isoformat(), what
        )

    @admin.display(description="Figures")
    def figures_panel(self, obj):
        if obj.pk is None:
            # Filled as the terms are typed (deal_figures.js, figures_view).
            return format_html(
                '<div data-deal-figures data-url="{}">Choose a stock unit to see the '
                "figures.</div>",
                reverse("admin:sales_deal_figures"),
            )
        # A delivered deal's unit cost is frozen: no need to read the unit's costs again.
        f = services.figures(obj, unit_cost=obj.unit_cost)
        html = self._figures_html(obj, f)
        if not obj.is_draft:
            return html
        return format_html(
            '<div data-deal-figures data-url="{}">{}</div>',
            reverse("admin:sales_deal_figures_of", args=[obj.pk]),
            html,
        )

    @staticmethod
    def _figures_html(obj, f):
        """The deal's figures as its page shows them: saved (figures_panel) or as typed
        (figures_view), from the same services.figures."""
        saved = obj.pk is not None
        received = sum((payment.amount for payment in obj.payments.all()), ZERO) if saved else ZERO
        refunded = sum((refund.amount for refund in obj.refunds.all()), ZERO) if saved else ZERO
        rows = [
            ("Sale price", f.sale_price),
            ("Add-ons", f.addons),
            ("Fees", f.fees),
            (f"Sales tax ({obj.sales_tax_rate:.3f}% on {f.taxable_amount:,.2f})", f.sales_tax),
            ("Total price", f.total_price),
            ("Trade-in allowance", f.trade_allowance),
            ("Trade-in payoff", f.trade_payoff),
            ("Down payment", f.down_payment),
            ("Amount financed", f.amount_financed),
            ("Monthly payment", f.monthly_payment),
            ("Cash due from buyer", f.cash_due),
            ("Payments received", received),
            *(
                (("Refunded", refunded), ("Held for the buyer", received - refunded))
                if refunded or obj.status in services.REFUNDABLE
                else ()
            ),
        ]
        if not getattr(obj, "gross_hidden", False):
            rows += [
                (
                    "Unit total cost" + (" (at delivery)" if obj.unit_cost is not None else ""),
                    obj.unit_cost if obj.unit_cost is not None else f.unit_cost,
                ),
                ("Trade over-allowance", f.trade_over_allowance),
                ("Front gross", obj.front_gross if obj.front_gross is not None else f.front_gross),
                ("Back gross", obj.back_gross if obj.back_gross is not None else f.back_gross),
                ("Total gross", obj.total_gross if obj.total_gross is not None else f.total_gross),
            ]
        return render_to_string(
            "admin/sales/deal/figures.html",
            {"rows": [(label, amount_text(value)) for label, value in rows]},
        )
