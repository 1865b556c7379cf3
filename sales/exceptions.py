from core.errors import DomainError


class DealError(DomainError):
    """A rule of the lot refused the operation; the message is for the user."""
