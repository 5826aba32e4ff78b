"""aerostack-async: the async-first client for the Aerostack Platform API."""

from ._version import __version__

__all__ = ["__version__"]
