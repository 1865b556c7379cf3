"""URLs while the benchmarks run: the product's, the untuned admin, and bare views that return
the API's rows with .values() (what the API pages are compared with)."""

from django.urls import path

from bench import bare
from bench.untuned import untuned_site
from carshop.urls import urlpatterns as product

urlpatterns = [
    path("untuned-admin/", untuned_site.urls),
    path("bench-bare/<str:name>/", bare.view, name="bench-bare"),
    *product,
]
