"""The seed SDK's retry settings, at the seed's import path (``aerostack.utils`` → here).

They live in `aerostack_async.compat.utils`, with the rest of the seed's surface.
"""

from .compat.utils import BackoffStrategy, RetryConfig

__all__ = ["BackoffStrategy", "RetryConfig"]
