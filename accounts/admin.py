from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin

from accounts.admin_base import CarshopModelAdmin
from accounts.models import Customer, ShopSettings, User


@admin.register(User)
class UserAdmin(CarshopModelAdmin, DjangoUserAdmin):
    list_display = ("username", "first_name", "last_name", "email", "is_active", "is_staff",
                    "last_login")
    list_filter = ("is_active", "is_staff", "groups")
    fieldsets = (
        *DjangoUserAdmin.fieldsets,
        ("Contact", {"fields": ("phone",)}),
    )


@admin.register(Customer)
class CustomerAdmin(CarshopModelAdmin):
    list_display = ("display_name", "kind", "phone", "email", "city", "consent_reminders")
    list_filter = ("kind", "consent_reminders")
    search_fields = ("display_name", "company_name", "first_name", "last_name", "phone",
                     "phone_other", "email")
    fieldsets = (
        (None, {"fields": ("kind", ("first_name", "last_name"), "company_name", "tax_id")}),
        ("Contact", {"fields": (("phone", "phone_other"), "email", "consent_reminders")}),
        ("Address", {"fields": ("address_line", ("city", "region", "postal_code"))}),
        ("Notes", {"fields": ("notes",)}),
    )


@admin.register(ShopSettings)
class ShopSettingsAdmin(CarshopModelAdmin):
    list_display = ("name", "labor_rate", "parts_tax_rate", "labor_tax_rate", "sales_tax_rate")
    fieldsets = (
        ("Business", {"fields": ("name", "address", "phone", "email", "tax_id")}),
        ("Service shop", {"fields": ("labor_rate", "parts_tax_rate", "labor_tax_rate",
                                     "shop_supplies_rate", "shop_supplies_cap",
                                     "hazardous_waste_fee", "estimate_link_days")}),
        ("Car lot", {"fields": ("sales_tax_rate", "trade_in_reduces_sales_tax",
                                "documentation_fee", "registration_fee",
                                "aging_threshold_days")}),
    )

    def has_add_permission(self, request):
        return super().has_add_permission(request) and not ShopSettings.objects.exists()

    def has_delete_permission(self, request, obj=None):
        return False
