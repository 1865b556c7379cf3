from django.urls import path

from messaging import views

app_name = "messaging"

urlpatterns = [
    path("opt-out/<str:token>/", views.opt_out_view, name="opt_out"),
    path("opened/<uuid:token>.gif", views.opened_view, name="opened"),
    path("sms-status/", views.sms_status_view, name="sms_status"),
]
