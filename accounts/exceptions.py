class AccountsError(Exception):
    """A business rule of accounts refused the operation; the message is for the user.

    `field` names the input the message is about, when there is one (the API reports it there).
    """

    def __init__(self, message, field=None):
        super().__init__(message)
        self.message = message
        self.field = field
