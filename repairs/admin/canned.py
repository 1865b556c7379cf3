"""Canned jobs: labor and parts added to an order in one go."""

from django.contrib import admin

from core.admin import CarshopModelAdmin
from inventory.models import Part
from repairs.admin.common import (
    lookup_fields,
)
from repairs.models import (
    CannedJob,
    CannedJobLabor,
    CannedJobPart,
)

# --------------------------------------------------------------------------------------------
# Canned jobs
# --------------------------------------------------------------------------------------------


class CannedJobLaborInline(admin.TabularInline):
    model = CannedJobLabor
    extra = 1


class CannedJobPartInline(admin.TabularInline):
    model = CannedJobPart
    extra = 1
    autocomplete_fields, raw_id_fields = lookup_fields(part=Part)

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("part")


@admin.register(CannedJob)
class CannedJobAdmin(CarshopModelAdmin):
    list_display = ("name", "active", "labor_hours")
    list_filter = ("active",)
    search_fields = ("name",)
    inlines = [CannedJobLaborInline, CannedJobPartInline]

    def get_queryset(self, request):
        return super().get_queryset(request).prefetch_related("labor")

    @admin.display(description="labor hours")
    def labor_hours(self, canned_job):
        return sum((line.hours for line in canned_job.labor.all()), 0)


@admin.register(CannedJobLabor)
class CannedJobLaborAdmin(CarshopModelAdmin):
    list_display = ("operation", "canned_job", "hours")
    list_select_related = ("canned_job",)
    search_fields = ("operation", "canned_job__name")


@admin.register(CannedJobPart)
class CannedJobPartAdmin(CarshopModelAdmin):
    list_display = ("part", "canned_job", "quantity")
    list_select_related = ("canned_job", "part")
    search_fields = ("=part__sku", "canned_job__name")
    autocomplete_fields, raw_id_fields = lookup_fields(part=Part)
