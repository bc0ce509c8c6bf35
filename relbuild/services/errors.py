"""The one error type services raise."""


class RelbuildError(Exception):
    """A refused operation: a machine-readable code, a human message, and the form field at fault."""

    def __init__(self, code: str, message: str, field: str | None = None, status: int = 400):
        super().__init__(message)
        self.code = code
        self.message = message
        self.field = field
        self.status = status
