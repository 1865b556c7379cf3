"""The partner REST API, /api/v1/.

Each app adds its endpoints in `<app>/api/routes.py` with a `register(router)` function; they are
collected here in layer order, so a new endpoint needs no change to this file. The machinery they
share (keys, scopes, throttling, errors, pagination, schema) is in accounts/api/.
"""

import importlib
import importlib.util

from csp.decorators import csp_update
from django.urls import include, path, re_path
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView, SpectacularSwaggerView
from rest_framework import exceptions
from rest_framework.decorators import api_view, permission_classes, schema
from rest_framework.permissions import AllowAny
from rest_framework.routers import SimpleRouter

from accounts.api.views import ApiRootView, MeView

API_APPS = ("accounts", "inventory", "repairs", "sales")

router = SimpleRouter(trailing_slash=True)
for app in API_APPS:
    if importlib.util.find_spec(f"{app}.api") and importlib.util.find_spec(f"{app}.api.routes"):
        importlib.import_module(f"{app}.api.routes").register(router)

endpoints = {"me": "api:me"}
endpoints.update({prefix: f"api:{basename}-list" for prefix, _viewset, basename in router.registry})


@api_view(["GET", "POST", "PUT", "PATCH", "DELETE"])
@permission_classes([AllowAny])
@schema(None)
def not_found(request, *args, **kwargs):
    raise exceptions.NotFound("There is no such endpoint: see /api/v1/ for the list.")


app_name = "api"
urlpatterns = [
    path("", ApiRootView.as_view(endpoints=endpoints), name="root"),
    path("me/", MeView.as_view(), name="me"),
    path("schema/", SpectacularAPIView.as_view(), name="schema"),
    path("docs/", SpectacularSwaggerView.as_view(url_name="api:schema"), name="docs"),
    # Redoc shows its maker's logo from their site: the one image the policy lets in, here only.
    path(
        "redoc/",
        csp_update({"img-src": ["https://cdn.redoc.ly"]})(
            SpectacularRedocView.as_view(url_name="api:schema")
        ),
        name="redoc",
    ),
    path("", include(router.urls)),
    # Any other path, whatever it holds (`.*` would not match one with a newline: `/1.%0A/`).
    re_path(r"^[\s\S]*$", not_found),
]
