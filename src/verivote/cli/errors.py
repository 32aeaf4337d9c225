"""The error a command raises for anything the user can fix: printed as one line, exit 1."""


class UserError(Exception):
    """Bad input or a failed step, with a message that says what to do."""
