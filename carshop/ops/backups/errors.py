"""The one exception backup code raises for a problem an operator can act on."""


class BackupError(Exception):
    """str() is one line that says what is wrong and, where it helps, what to do."""
