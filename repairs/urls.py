"""Public pages of the service shop (no login): the customer's estimate behind a signed link."""

from django.urls import path

from repairs import views

app_name = "repairs"

urlpatterns = [
    path("<str:token>/", views.customer_estimate, name="customer_estimate"),
    path(
        "<str:token>/media/<int:media_id>/",
        views.customer_inspection_media,
        name="customer_media",
    ),
]
