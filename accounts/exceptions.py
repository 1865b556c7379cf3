from core.errors import DomainError


class AccountsError(DomainError):
    """A business rule of accounts refused the operation; the message is for the user.

    `field` names the input the message is about, when there is one (the API reports it there).
    """
