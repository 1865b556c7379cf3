"""The back office's location chooser: which location's records the lists show."""

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST

from accounts.locations import choose_location


@require_POST
def choose_location_view(request: HttpRequest) -> HttpResponse:
    if not choose_location(request, request.POST.get("location", "")):
        messages.error(request, "You do not work at that location; nothing changed.")
    target = request.POST.get("next", "")
    if not url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        target = "admin:index"
    return redirect(target)
