"""Back-office pages of the lot outside the admin: private files behind a permission check."""

from django.urls import path

from inventory import views

app_name = "inventory"

urlpatterns = [
    path("<path:name>", views.private_file, name="private-file"),
]
