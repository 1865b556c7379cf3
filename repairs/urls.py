"""Public pages of the service shop (no login): the customer's estimate behind a signed link."""

from django.urls import path

from repairs import views

app_name = "repairs"

urlpatterns = [
    path("<str:token>/", views.customer_estimate, name="customer_estimate"),
]
