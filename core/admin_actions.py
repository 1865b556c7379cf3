"""Running a service from the admin, and reporting what it refused, the same way on every page.

A service refuses with a `core.errors.DomainError` (or a model's ValidationError) whose message is
for the person who asked. Whether the call comes from an action over selected rows, a button on a
change page or saving a form, the refusal is shown as an error message on the next page, never
as an error page; the service's transaction has rolled back whole.
"""

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpResponseRedirect

from core.errors import DomainError

REFUSALS = (DomainError, ValidationError)


def refusal_text(exc):
    """The message of a refusal, as the person who asked reads it."""
    if isinstance(exc, ValidationError):
        return " ".join(exc.messages)
    return str(exc)


def report_refusal(modeladmin, request, exc):
    modeladmin.message_user(request, refusal_text(exc), messages.ERROR)


def run_service(modeladmin, request, call, *args, **kwargs):
    """Call a service; report its refusal. (True, result) when it ran, (False, None) when it
    refused."""
    try:
        return True, call(*args, **kwargs)
    except REFUSALS as exc:
        report_refusal(modeladmin, request, exc)
        return False, None


def run_for_each(modeladmin, request, objects, call, summary=None):
    """Call `call(obj)` for each object (an action over the selected rows). What was done is
    reported first: `summary` is given the (object, result) pairs of the calls that ran, when
    there are any, and returns the success message (or None when it reported them itself).
    Each refusal is reported next. Returns those pairs, in order."""
    done, refused = [], []
    for obj in objects:
        try:
            done.append((obj, call(obj)))
        except REFUSALS as exc:
            refused.append(exc)
    if done and summary is not None and (message := summary(done)):
        modeladmin.message_user(request, message, messages.SUCCESS)
    for refusal in refused:
        report_refusal(modeladmin, request, refusal)
    return done


def add_refusal_to_form(form, exc):
    """Show a refusal on the form that asked: next to the field it names, else above the
    form."""
    field = getattr(exc, "field", None)
    form.add_error(field if field in form.fields else None, refusal_text(exc))


class RefusalsAsMessages:
    """A refusal raised while saving or deleting on an admin page is shown as a message on the
    same page (the admin view's transaction was rolled back whole), not as an error page."""

    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        try:
            return super().changeform_view(request, object_id, form_url, extra_context)
        except REFUSALS as exc:
            report_refusal(self, request, exc)
            return HttpResponseRedirect(request.get_full_path())

    def delete_view(self, request, object_id, extra_context=None):
        try:
            return super().delete_view(request, object_id, extra_context)
        except REFUSALS as exc:
            report_refusal(self, request, exc)
            return HttpResponseRedirect(request.get_full_path())
