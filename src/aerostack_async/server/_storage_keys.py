"""Storage keys: which keys are allowed, and the signed URLs that serve an object without a key.

A key never becomes a path: objects live under random file names (see ``_storage_store``), so
these rules are about refusing nonsense early and keeping URLs unambiguous, not about safety
of the file system alone. A hostile key is refused before anything is read or written.
"""

from __future__ import annotations

import hashlib
import hmac
from urllib.parse import quote

MAX_KEY_BYTES = 1024


def key_problem(key: str) -> str | None:
    """Why ``key`` is not a valid storage key, or ``None`` if it is.

    Refused: empty keys, keys over 1024 bytes of UTF-8, a leading ``/``, empty segments
    (``a//b``, a trailing ``/``), ``.`` and ``..`` segments, NUL and backslash.
    """
    if not key:
        return "Must not be empty"
    try:
        size = len(key.encode("utf-8"))
    except UnicodeEncodeError:
        return "Must be valid UTF-8 (no lone surrogates)"
    if size > MAX_KEY_BYTES:
        return f"Must be at most {MAX_KEY_BYTES} bytes of UTF-8"
    if "\0" in key:
        return "Must not contain NUL"
    if "\\" in key:
        return "Must not contain a backslash"
    if key.startswith("/"):
        return "Must not start with '/'"
    for segment in key.split("/"):
        if segment == "":
            return "Must not contain empty segments ('//' or a trailing '/')"
        # "." segments are refused too: URL normalisation would silently drop them.
        if segment in (".", ".."):
            return f"Must not contain a '{segment}' segment"
    return None


class UrlSigner:
    """HMAC-SHA256 signatures for ``GET /v1/storage/object/{key}``.

    Without ``expires`` a URL is permanent (what uploads, copies and moves return, like a CDN
    URL); with it, the URL stops working at that unix time (what ``/storage/getUrl`` returns).
    """

    def __init__(self, secret: bytes, base_url: str, *, project: str | None = None) -> None:
        self._secret = hashlib.sha256(b"aerostack-storage-url\0" + secret).digest()
        self._base_url = base_url.rstrip("/")
        # A minted project's URLs say which project serves them (its secret signs them).
        self._prefix = f"project={project}&" if project else ""

    def _signature(self, key: str, expires: int | None) -> str:
        message = key.encode("utf-8") + b"\0" + (str(expires).encode() if expires else b"")
        return hmac.new(self._secret, message, hashlib.sha256).hexdigest()

    def url(self, key: str, expires: int | None = None) -> str:
        """The signed URL of ``key`` (valid until ``expires``, if given)."""
        query = f"sig={self._signature(key, expires)}"
        if expires:
            query = f"expires={expires}&{query}"
        query = self._prefix + query
        return f"{self._base_url}/storage/object/{quote(key, safe='/')}?{query}"

    def verify(self, key: str, expires: int | None, signature: str) -> bool:
        """Whether ``signature`` was made by `url()` for ``key`` and ``expires``."""
        return hmac.compare_digest(self._signature(key, expires), signature)
