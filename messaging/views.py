"""What the customer and the text provider reach without logging in: the opt-out page, the
email's tracking image, the provider's status callbacks."""

import base64

from django.http import HttpResponse, HttpResponseForbidden
from django.shortcuts import render
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods, require_POST

from messaging import services, sms

# The smallest transparent GIF.
PIXEL = base64.b64decode("R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7")


@never_cache
@require_http_methods(["GET", "POST"])
def opt_out_view(request, token):
    """Asks first (a link checker opening the page must not opt the customer out), then
    records the opt-out."""
    customer = services.customer_for_opt_out(token)
    if customer is None:
        response = render(request, "messaging/opt_out.html", {"invalid": True}, status=404)
        response["Referrer-Policy"] = "same-origin"
        return response
    done = services.has_opted_out(customer)
    if request.method == "POST" and not done:
        services.opt_out(customer)
        done = True
    response = render(request, "messaging/opt_out.html", {"done": done})
    response["Referrer-Policy"] = "same-origin"
    return response


@never_cache
def opened_view(request, token):
    services.record_open(token)
    return HttpResponse(PIXEL, content_type="image/gif")


@csrf_exempt
@require_POST
def sms_status_view(request):
    """Twilio's status callback, signed with X-Twilio-Signature over the URL Twilio was given."""
    params = {key: request.POST.get(key, "") for key in request.POST}
    signature = request.headers.get("X-Twilio-Signature", "")
    if not sms.valid_twilio_signature(services.status_callback_url(), params, signature):
        return HttpResponseForbidden("Invalid signature.")
    services.record_provider_status(
        params.get("MessageSid", ""), params.get("MessageStatus", ""), params.get("ErrorCode", "")
    )
    return HttpResponse(status=204)
