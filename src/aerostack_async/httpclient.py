"""The seed SDK's client protocols, at the seed's import path (``aerostack.httpclient`` → here).

They live in `aerostack_async.compat.httpclient`, with the rest of the seed's surface.
"""

from .compat.httpclient import AsyncHttpClient, HttpClient

__all__ = ["AsyncHttpClient", "HttpClient"]
