"""Digital inspections: the checklists, an inspection filled on a phone (ratings, measurements,
notes, photos and videos) and the points that need work turned into jobs; the customers'
signed approvals. Nothing here shows a price: technicians fill these pages."""

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpResponseNotAllowed, HttpResponseRedirect
from django.urls import path, reverse
from django.utils.html import format_html, format_html_join

from accounts.locations import LocationScopedAdmin
from core.admin import CarshopModelAdmin, ReadOnlyMixin
from core.admin_actions import RefusalsAsMessages, run_service
from repairs import inspections, media
from repairs.admin.common import get_or_none, technician_only
from repairs.choices import OPEN_STATUSES
from repairs.exceptions import RepairError
from repairs.models import (
    EstimateSignature,
    Inspection,
    InspectionItem,
    InspectionTemplate,
    InspectionTemplatePoint,
    RepairOrder,
)

# What the phone's file box offers: its camera for a photo or a short video.
MEDIA_ACCEPT = "image/*,video/mp4,video/webm,video/quicktime"


class InspectionTemplatePointInline(admin.TabularInline):
    model = InspectionTemplatePoint
    extra = 1
    fields = ("position", "section", "label", "measurement")


@admin.register(InspectionTemplate)
class InspectionTemplateAdmin(CarshopModelAdmin):
    list_display = ("name", "purpose", "active")
    list_filter = ("purpose", "active")
    search_fields = ("name",)
    inlines = [InspectionTemplatePointInline]


class InspectionItemForm(forms.ModelForm):
    add_media = forms.FileField(
        label="Add photo or video",
        required=False,
        widget=forms.ClearableFileInput(attrs={"accept": MEDIA_ACCEPT, "capture": "environment"}),
    )

    class Meta:
        model = InspectionItem
        fields = ("rating", "measurement", "notes")
        widgets = {
            "notes": forms.Textarea(attrs={"rows": 2, "cols": 30}),
            "measurement": forms.NumberInput(attrs={"inputmode": "decimal", "step": "0.5"}),
        }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if not self.instance.measurement_kind:
            # Only the points that ask for one (tread depths) take a measurement.
            self.fields["measurement"].disabled = True

    def clean_add_media(self):
        upload = self.cleaned_data.get("add_media")
        if upload:
            try:
                self.prepared = media.prepare(upload)
            except RepairError as exc:
                raise ValidationError(str(exc)) from None
        return upload

    def clean_measurement(self):
        value = self.cleaned_data.get("measurement")
        if value is not None and not self.instance.measurement_kind:
            raise ValidationError(f"{self.instance.label} takes no measurement.")
        return value

    def has_changed(self):
        return super().has_changed() or bool(self.files.get(self.add_prefix("add_media")))


class InspectionItemInline(admin.StackedInline):
    """One block per point: on a phone's narrow screen, the rating, measurement, notes and the
    camera's file box one under the other."""

    model = InspectionItem
    form = InspectionItemForm
    verbose_name = "point"
    verbose_name_plural = "points"
    extra = 0
    can_delete = False
    fields = ("point", "rating", "measurement", "notes", "photos", "add_media")
    readonly_fields = ("point", "photos")

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("job").prefetch_related("media")

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        if obj is not None and obj.repair_order.status not in OPEN_STATUSES:
            return False
        return super().has_change_permission(request, obj)

    @admin.display(description="point")
    def point(self, item):
        label = f"{item.section}: {item.label}" if item.section else item.label
        if item.measurement_kind:
            return format_html(
                "{}<br><small>{}</small>", label, item.get_measurement_kind_display()
            )
        return label

    @admin.display(description="photos and videos")
    def photos(self, item):
        shots = list(item.media.all())
        if not shots:
            return "-"
        return format_html_join(
            " ",
            '<a href="{}" target="_blank" rel="noopener">{}</a>',
            (
                (
                    shot.file.url,
                    format_html('<img src="{}" alt="{}" width="96">', shot.file.url, item)
                    if shot.kind == "photo"
                    else "Video",
                )
                for shot in shots
            ),
        )


class InspectionAddForm(forms.ModelForm):
    checklist = forms.ModelChoiceField(InspectionTemplate.objects.filter(active=True))

    class Meta:
        model = Inspection
        fields = ("repair_order",)


@admin.register(Inspection)
class InspectionAdmin(LocationScopedAdmin, RefusalsAsMessages, CarshopModelAdmin):
    """In a group, an inspection is of its order's location: the list shows the locations
    chosen in the header, and another location's inspection is not found."""

    location_field = "repair_order__location"
    list_display = ("name", "repair_order", "technician", "started_at")
    list_select_related = ("repair_order", "technician")
    search_fields = ("=repair_order__number", "name")
    inlines = [InspectionItemInline]
    change_form_template = "admin/repairs/inspection/change_form.html"

    def get_queryset(self, request):
        queryset = super().get_queryset(request)
        if technician_only(request):
            queryset = queryset.filter(
                repair_order__in=RepairOrder.objects.for_technician(request.user)
            )
        return queryset

    def get_form(self, request, obj=None, change=False, **kwargs):
        if obj is None:
            kwargs["form"] = InspectionAddForm
        return super().get_form(request, obj, change, **kwargs)

    def get_fields(self, request, obj=None):
        if obj is None:
            return ("repair_order", "checklist")
        return ("repair_order", "name", "technician", "started_at")

    def get_readonly_fields(self, request, obj=None):
        if obj is None:
            return ()
        return ("repair_order", "name", "technician", "started_at")

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.name == "repair_order":
            orders = RepairOrder.objects.filter(status__in=OPEN_STATUSES).select_related("vehicle")
            if technician_only(request):
                orders = orders.for_technician(request.user)
            kwargs["queryset"] = orders
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def get_changeform_initial_data(self, request):
        return {"repair_order": request.GET.get("repair_order")}

    def save_model(self, request, obj, form, change):
        if change:
            return
        created = inspections.start_inspection(
            form.cleaned_data["repair_order"], form.cleaned_data["checklist"], user=request.user
        )
        obj.pk = created.pk
        obj._state.adding = False

    def save_formset(self, request, form, formset, change):
        if formset.model is not InspectionItem:
            return super().save_formset(request, form, formset, change)
        # What the admin's change message lists (Django's save() would have set these).
        formset.new_objects, formset.deleted_objects, formset.changed_objects = [], [], []
        for item_form in formset.forms:
            if not item_form.has_changed():
                continue
            formset.changed_objects.append((item_form.instance, item_form.changed_data))
            item = item_form.instance
            data = item_form.cleaned_data
            inspections.rate_item(
                item,
                rating=data.get("rating", ""),
                measurement=data.get("measurement"),
                notes=data.get("notes", ""),
                user=request.user,
            )
            prepared = getattr(item_form, "prepared", None)
            if prepared is not None:
                inspections.add_media(item, prepared=prepared, user=request.user)
        return None

    def save_related(self, request, form, formsets, change):
        if change:
            super().save_related(request, form, formsets, change)

    def get_inline_instances(self, request, obj=None):
        return [] if obj is None else super().get_inline_instances(request, obj)

    def response_add(self, request, obj, post_url_continue=None):
        # Straight to the checklist, to fill it in.
        return HttpResponseRedirect(reverse("admin:repairs_inspection_change", args=[obj.pk]))

    def has_recommend_permission(self, request):
        return request.user.has_perm("repairs.add_job")

    def change_view(self, request, object_id, form_url="", extra_context=None):
        obj = get_or_none(self.get_queryset(request), object_id)
        extra_context = {"show_save_and_add_another": False, **(extra_context or {})}
        if obj is not None and self.has_recommend_permission(request):
            extra_context["recommendable"] = [
                (item, reverse("admin:repairs_inspection_recommend", args=[obj.pk, item.pk]))
                for item in obj.items.filter(rating__in=("attention", "urgent"), job=None)
            ]
            extra_context["recommended"] = list(obj.items.exclude(job=None).select_related("job"))
        return super().change_view(request, object_id, form_url, extra_context)

    def recommend_view(self, request, object_id, item_id):
        """Turn one point into a recommended job on the order (POST)."""
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        if not self.has_recommend_permission(request):
            raise PermissionDenied
        inspection = get_or_none(self.get_queryset(request), object_id)
        item = inspection and get_or_none(inspection.items.all(), item_id)
        if item is None:
            raise Http404
        ran, job = run_service(self, request, inspections.recommend_job, item, user=request.user)
        if ran:
            self.message_user(
                request,
                format_html(
                    '{}: job <a href="{}">{}</a> added to {}, waiting for the customer.',
                    item.label,
                    reverse("admin:repairs_repairorder_change", args=[job.repair_order_id]),
                    job,
                    inspection.repair_order,
                ),
                messages.SUCCESS,
            )
        return HttpResponseRedirect(
            reverse("admin:repairs_inspection_change", args=[inspection.pk])
        )

    def get_urls(self):
        return [
            path(
                "<path:object_id>/items/<int:item_id>/job/",
                self.admin_site.admin_view(self.recommend_view),
                name="repairs_inspection_recommend",
            ),
            *super().get_urls(),
        ]


@admin.register(EstimateSignature)
class EstimateSignatureAdmin(LocationScopedAdmin, ReadOnlyMixin, CarshopModelAdmin):
    location_field = "repair_order__location"
    list_display = ("repair_order", "signed_name", "signed_at", "client_ip", "total")
    list_select_related = ("repair_order",)
    search_fields = ("=repair_order__number", "signed_name")
    fields = ("repair_order", "signed_name", "signed_at", "client_ip", "total", "jobs")
