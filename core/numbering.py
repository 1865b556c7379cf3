"""Gapless document numbers: a counter row, locked while the document that takes the number is
written, in the same transaction.

Two people numbering at the same moment queue on the counter's row (SELECT ... FOR UPDATE): the
numbers follow each other with no gap and no duplicate, and a transaction that rolls back gives
its number back. The callers keep their own counter model (repairs' DocumentSequence for invoices,
credit notes and repair orders; inventory's StockNumberSeries for stock units) and how the number
is written.
"""

from __future__ import annotations

from typing import Any, TypeVar

from django.db import models

Counter = TypeVar("Counter", bound=models.Model)


def advance(
    model: type[Counter], field: str, *, defaults: dict[str, Any] | None = None, **lookup: Any
) -> tuple[Counter, int]:
    """Lock the counter row `lookup` names (created with `defaults` the first time), add one to
    its `field` and save it. Returns the row and the number `field` held before: with
    `field` the next number to give, that is the number taken; with the last number given, one
    less than it. Runs inside the transaction that writes the numbered document (Django refuses
    a locking read outside one)."""
    counter, _ = model._default_manager.select_for_update().get_or_create(
        defaults=defaults, **lookup
    )
    before = getattr(counter, field)
    setattr(counter, field, before + 1)
    counter.save(update_fields=[field])
    return counter, before
