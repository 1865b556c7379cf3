"""One way to declare a status machine: its allowed moves, written once, and one check.

Each machine (a repair order, a purchase order, a stock unit, a deal) declares a `Pipeline`, as
django-oscar's orders declare their `pipeline`: from each status, the statuses it may move to.
Services check a move with `check` before making it; the admin asks `allows` (or `sources`)
which actions and buttons to offer for a status. The refusal is the app's own DomainError
subclass, with a message for the user written by the app (`refusal`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Mapping

    from core.errors import DomainError


class Pipeline:
    """The allowed moves of one status machine.

    `moves` maps each status to the statuses it may move to; statuses not listed move nowhere.
    `error` is the DomainError subclass a refused move raises, `refusal(obj, *targets)` its
    message.
    """

    def __init__(
        self,
        moves: Mapping[str, Iterable[str]],
        *,
        error: type[DomainError],
        refusal: Callable[..., str],
    ) -> None:
        self.moves: dict[str, tuple[str, ...]] = {
            source: tuple(targets) for source, targets in moves.items()
        }
        self.error = error
        self.refusal = refusal

    def allows(self, status: str, *targets: str) -> bool:
        """Whether `status` may move to one of `targets`."""
        allowed = self.moves.get(status, ())
        return any(target in allowed for target in targets)

    def targets(self, status: str) -> tuple[str, ...]:
        """The statuses `status` may move to, in the order declared."""
        return self.moves.get(status, ())

    def sources(self, *targets: str) -> tuple[str, ...]:
        """The statuses that may move to one of `targets`, in the order declared."""
        return tuple(source for source in self.moves if self.allows(source, *targets))

    def check(self, obj: Any, *targets: str, refusal: Callable[..., str] | None = None) -> None:
        """Raise the pipeline's error unless `obj` may move from its status to one of
        `targets`; `refusal` words this refusal when the pipeline's own wording does not fit."""
        if not self.allows(obj.status, *targets):
            raise self.error((refusal or self.refusal)(obj, *targets))
