"""The technician's screen, inside the back office (same login, same look): /admin/my-jobs/."""

from django.contrib import admin
from django.urls import path

from repairs import technician_views as views

app_name = "technician"

wrap = admin.site.admin_view

urlpatterns = [
    path("", wrap(views.my_jobs), name="jobs"),
    path("<int:job_id>/clock-on/", wrap(views.clock_on), name="clock_on"),
    path("clock-off/", wrap(views.clock_off), name="clock_off"),
]
