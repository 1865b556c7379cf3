from core.errors import DomainError


class MessagingError(DomainError):
    """A message that cannot be sent as asked (no address, opted out, a bad template...)."""
