"""``client.authentication``: project users sign up and sign in."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .._options import CallOptions, Unpack
from ..errors import InvalidRequestError
from ..models._base import decoder_for
from ..models.authentication import AuthResponse, SignInRequest, SignUpRequest
from ._base import Resource, check_optional_object, check_optional_str, check_str, encode_body

__all__ = ["Authentication"]

MIN_PASSWORD_CHARS = 8
_AUTH = decoder_for(AuthResponse)


def _email(value: object) -> str:
    email = check_str("email", value, max_bytes=320)
    if "@" not in email:
        raise InvalidRequestError("email must be an e-mail address")
    return email


class Authentication(Resource):
    """Sign users up and in; both return a session (a JWT, its expiry and the user)."""

    __slots__ = ()

    async def sign_up(
        self,
        email: str,
        password: str,
        *,
        name: str | None = None,
        metadata: Mapping[str, Any] | None = None,
        **options: Unpack[CallOptions],
    ) -> AuthResponse:
        """Create a user (``password`` at least 8 characters); 409 ``ConflictError`` if taken."""
        secret = check_str("password", password)
        if len(secret) < MIN_PASSWORD_CHARS:
            raise InvalidRequestError(f"password must be at least {MIN_PASSWORD_CHARS} characters")
        body = encode_body(
            SignUpRequest(
                email=_email(email),
                password=secret,
                name=check_optional_str("name", name, empty=True),
                metadata=check_optional_object("metadata", metadata),
            )
        )
        return await self._transport.request(
            "POST", "/auth/signup", body, _AUTH, mutating=True, options=options
        )

    async def sign_in(
        self, email: str, password: str, **options: Unpack[CallOptions]
    ) -> AuthResponse:
        """A new session for a user; wrong credentials raise ``AuthenticationError``."""
        body = encode_body(
            SignInRequest(email=_email(email), password=check_str("password", password))
        )
        return await self._transport.request(
            "POST", "/auth/signin", body, _AUTH, mutating=True, options=options
        )
