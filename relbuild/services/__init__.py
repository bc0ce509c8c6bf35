"""Domain logic: plain functions, no request object, errors as RelbuildError."""
from .errors import RelbuildError

__all__ = ["RelbuildError"]
