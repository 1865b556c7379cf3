class DomainError(Exception):
    """A business rule refused the operation; the message is for the person who asked.

    `field` names the input the message is about, when there is one: a form shows the message
    next to that field and the API reports it under that field's name. Every app's refusals
    derive from this class, so the admin, the API and the commands each handle it in one place.
    """

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field

    def __str__(self) -> str:
        return str(self.message)
