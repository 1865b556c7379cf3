"""Running a service from the admin, and reporting what it refused, the same way on every page.

A service refuses with a `core.errors.DomainError` (or a model's ValidationError) whose message is
for the person who asked. Whether the call comes from an action over selected rows, a button on a
change page or saving a form, the refusal is shown as an error message on the next page, never
as an error page; the service's transaction has rolled back whole.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, TypeVar

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpResponseRedirect

from core.errors import DomainError

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable

    from django.contrib.admin import ModelAdmin
    from django.forms import BaseForm
    from django.http import HttpRequest, HttpResponse

    # For the type check, the mixin is what it is mixed into: a model admin.
    _AdminBase = ModelAdmin[Any]
else:
    _AdminBase = object

T = TypeVar("T")
R = TypeVar("R")

REFUSALS = (DomainError, ValidationError)


def refusal_text(exc: Exception) -> str:
    """The message of a refusal, as the person who asked reads it."""
    if isinstance(exc, ValidationError):
        return " ".join(exc.messages)
    return str(exc)


def report_refusal(modeladmin: ModelAdmin[Any], request: HttpRequest, exc: Exception) -> None:
    modeladmin.message_user(request, refusal_text(exc), messages.ERROR)


def run_service(
    modeladmin: ModelAdmin[Any],
    request: HttpRequest,
    call: Callable[..., T],
    *args: Any,
    **kwargs: Any,
) -> tuple[bool, T | None]:
    """Call a service; report its refusal. (True, result) when it ran, (False, None) when it
    refused."""
    try:
        return True, call(*args, **kwargs)
    except REFUSALS as exc:
        report_refusal(modeladmin, request, exc)
        return False, None


def run_for_each(
    modeladmin: ModelAdmin[Any],
    request: HttpRequest,
    objects: Iterable[T],
    call: Callable[[T], R],
    summary: Callable[[list[tuple[T, R]]], str | None] | None = None,
) -> list[tuple[T, R]]:
    """Call `call(obj)` for each object (an action over the selected rows). What was done is
    reported first: `summary` is given the (object, result) pairs of the calls that ran, when
    there are any, and returns the success message (or None when it reported them itself).
    Each refusal is reported next. Returns those pairs, in order."""
    done: list[tuple[T, R]] = []
    refused: list[Exception] = []
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


def add_refusal_to_form(form: BaseForm, exc: Exception) -> None:
    """Show a refusal on the form that asked: next to the field it names, else above the
    form."""
    field = getattr(exc, "field", None)
    form.add_error(field if field in form.fields else None, refusal_text(exc))


class RefusalsAsMessages(_AdminBase):
    """A refusal raised while saving or deleting on an admin page is shown as a message on the
    same page (the admin view's transaction was rolled back whole), not as an error page."""

    def changeform_view(
        self,
        request: HttpRequest,
        object_id: str | None = None,
        form_url: str = "",
        extra_context: dict[str, Any] | None = None,
    ) -> HttpResponse:
        try:
            return super().changeform_view(request, object_id, form_url, extra_context)
        except REFUSALS as exc:
            report_refusal(self, request, exc)
            return HttpResponseRedirect(request.get_full_path())

    def delete_view(
        self, request: HttpRequest, object_id: str, extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        try:
            return super().delete_view(request, object_id, extra_context)
        except REFUSALS as exc:
            report_refusal(self, request, exc)
            return HttpResponseRedirect(request.get_full_path())
