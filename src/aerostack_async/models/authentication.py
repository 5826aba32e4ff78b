"""Wire types of ``/auth/*``: sign-up, sign-in and the user they return."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import msgspec

from ._base import Model

__all__ = ["AuthResponse", "SignInRequest", "SignUpRequest", "User"]


class SignUpRequest(Model, kw_only=True):
    """``POST /auth/signup``."""

    email: str
    password: str
    name: str | None = None
    metadata: dict[str, Any] | None = None


class SignInRequest(Model, kw_only=True):
    """``POST /auth/signin``."""

    email: str
    password: str


class User(Model, kw_only=True):
    """A project user."""

    id: str
    email: str
    name: str | None = None
    created_at: datetime | None = msgspec.field(default=None, name="createdAt")
    metadata: dict[str, Any] = msgspec.field(default_factory=dict)


class AuthResponse(Model, kw_only=True):
    """A session: a signed JWT, when it expires, and its user."""

    token: str
    expires_at: datetime | None = msgspec.field(default=None, name="expiresAt")
    user: User
