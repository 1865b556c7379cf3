from django.conf import settings
from django.contrib import admin
from django.http import Http404, HttpResponsePermanentRedirect
from django.templatetags.static import static
from django.urls import include, path, re_path
from django.views.generic import RedirectView
from django.views.static import serve

from accounts.views import choose_location_view
from carshop.api_urls import not_found as api_not_found
from carshop.health import HEALTH_CHECKS, LIVENESS_CHECKS
from carshop.healthview import CarshopHealthCheckView
from repairs.technician_views import back_office_home


def favicon(request):
    # Resolved per request: the static manifest may not exist yet when URLs are loaded.
    return HttpResponsePermanentRedirect(static("carshop/favicon.svg"))


admin.site.site_header = "Carshop"
admin.site.site_title = "Carshop back office"
admin.site.index_title = "Shop and lot"

urlpatterns = [
    path("", RedirectView.as_view(pattern_name="admin:index", permanent=False)),
    # The managers' report pages, inside the back office (same login and look).
    path("admin/reports/", include("reports.urls")),
    # The technicians' own screen; the back office's home sends them there after logging in.
    path("admin/my-jobs/", include("repairs.technician_urls")),
    path(
        "admin/location/",
        admin.site.admin_view(choose_location_view),
        name="choose-location",
    ),
    path("admin/", admin.site.admin_view(back_office_home)),
    path("admin/", admin.site.urls),
    path("reports/", RedirectView.as_view(pattern_name="reports:index", permanent=False)),
    path("dashboard/", RedirectView.as_view(pattern_name="reports:index", permanent=False)),
    # Browsers ask for /favicon.ico on every page that names no icon.
    path("favicon.ico", favicon),
    path("health/", CarshopHealthCheckView.as_view(checks=HEALTH_CHECKS), name="health"),
    path(
        "health/live/", CarshopHealthCheckView.as_view(checks=LIVENESS_CHECKS), name="health-live"
    ),
    path("api/v1/", include("carshop.api_urls")),
    # Elsewhere under /api/ too, an unknown endpoint is a 404 in the API's error format (but
    # /api/v1 is still redirected to /api/v1/).
    re_path(r"^api/(?!v1\Z)", api_not_found),
    path("estimate/", include("repairs.urls")),
    # What customers and the text provider reach without logging in (opt-out, callbacks).
    path("messages/", include("messaging.urls")),
    # Private uploads (cost receipts): a permission check, then the file (inventory/files.py).
    path("private-media/", include("inventory.urls")),
]


def public_media(request, path):
    """Development only (nginx serves /media/ in production): public uploads, i.e. the folders of
    PUBLIC_MEDIA_FOLDERS. Private files in the same media folder are never served here."""
    if not settings.DEBUG or not path.startswith(tuple(settings.PUBLIC_MEDIA_FOLDERS)):
        raise Http404("No such file.")
    return serve(request, path, document_root=settings.MEDIA_ROOT)


urlpatterns.append(path(f"{settings.MEDIA_URL.strip('/')}/<path:path>", public_media))
