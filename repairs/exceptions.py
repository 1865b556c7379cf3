from core.errors import DomainError


class RepairError(DomainError):
    """A business rule of the service shop refused the operation; the message is for the user."""


class TransitionNotAllowed(RepairError):
    """The repair order is not in a status the requested step can start from."""


class InvoiceIsFinal(RepairError):
    """Invoices, credit notes and payments are never changed once written."""
