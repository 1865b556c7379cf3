"""What every Carshop admin page shares (kept in accounts, the bottom layer, so all apps use it).

- The "History" button of each change page shows the object's audit log (django-auditlog), with
  who changed what and when, instead of Django's admin-only log.
- Lists do not count the whole table on every page load (`show_full_result_count = False`).
"""

from auditlog.mixins import AuditlogHistoryAdminMixin
from django.contrib import admin


class CarshopModelAdmin(AuditlogHistoryAdminMixin, admin.ModelAdmin):
    show_full_result_count = False
    list_per_page = 50
    auditlog_history_per_page = 25

    def history_view(self, request, object_id, extra_context=None):
        return self.auditlog_history_view(request, object_id, extra_context)
