"""More buttons on a repair order's page, from apps above repairs.

The page's buttons are the workflow's steps (RepairOrderAdmin.workflow_buttons); an app that
repairs may not import (messaging: "send to the customer") adds its own here from its
AppConfig.ready(). A provider is a function of (request, order) returning buttons as the
workflow's: (key, label, kind, url), kind being "link" or "post".
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.http import HttpRequest

Button = tuple[str, str, str, str]
ButtonProvider = Callable[[HttpRequest, Any], list[Button]]

_providers: dict[str, ButtonProvider] = {}


def register(key: str, provider: ButtonProvider) -> None:
    """Add `provider`'s buttons to every repair order's page (registering a key again replaces
    it: ready() may run more than once in tests)."""
    _providers[key] = provider


def extra_buttons(request: HttpRequest, order: Any) -> list[Button]:
    return [button for provider in _providers.values() for button in provider(request, order)]
