"""The deal's workflow, declared once (core.workflow): from each status, the statuses it may
move to, and the step that makes each move. sales.services checks every step against
`DEAL_PIPELINE`; the admin offers a deal the steps its status allows.
"""

from core.workflow import Pipeline
from sales.exceptions import DealError
from sales.models import Deal

Status = Deal.Status

# The steps people take, by the status each moves a deal to.
STEPS = {
    "sign": Status.SIGNED,
    "deliver": Status.DELIVERED,
    "cancel": Status.CANCELED,
    "unwind": Status.UNWOUND,
}
_VERBS: dict[str, str] = {
    Status.SIGNED: "signed",
    Status.DELIVERED: "delivered",
    Status.CANCELED: "canceled",
    Status.UNWOUND: "unwound",
}
# What to do instead, when a step is refused from a status.
_INSTEAD: dict[tuple[str, str], str] = {
    (Status.DELIVERED, Status.CANCELED): " (unwind a delivered one)",
}


def _refusal(deal: Deal, status: str) -> str:
    sources = " or ".join(Status(source).label.lower() for source in DEAL_PIPELINE.sources(status))
    return (
        f"{deal.number} is {deal.get_status_display().lower()}; only a {sources} deal can "
        f"be {_VERBS[status]}{_INSTEAD.get((deal.status, status), '')}."
    )


DEAL_PIPELINE = Pipeline(
    {
        Status.DRAFT: (Status.SIGNED, Status.CANCELED),
        Status.SIGNED: (Status.DELIVERED, Status.CANCELED),
        Status.DELIVERED: (Status.UNWOUND,),
    },
    error=DealError,
    refusal=_refusal,
)


def steps_from(status: str) -> list[str]:
    """The names of the steps a deal in `status` may take, in workflow order."""
    return [name for name, target in STEPS.items() if DEAL_PIPELINE.allows(status, target)]
