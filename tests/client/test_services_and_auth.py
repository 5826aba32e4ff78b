"""client.services and client.authentication against the emulator."""

from __future__ import annotations

import pytest

from aerostack_async import AsyncAerostack
from aerostack_async.errors import AuthenticationError, ConflictError, InvalidRequestError

from .._loopback import scripted_server
from .conftest import ClientFactory

pytestmark = pytest.mark.anyio


async def test_invoke_returns_the_service_result(client: AsyncAerostack) -> None:
    result = await client.services.invoke("echo", {"a": 1})
    assert result.success
    assert result.result == {"a": 1}


async def test_sign_up_returns_a_session_for_the_new_user(
    client: AsyncAerostack, unique: str
) -> None:
    session = await client.authentication.sign_up(
        f"{unique}@example.com", "correct horse", name="Ada", metadata={"plan": "pro"}
    )
    assert session.token.count(".") == 2
    assert session.expires_at is not None
    assert (session.user.email, session.user.name) == (f"{unique}@example.com", "Ada")
    assert session.user.metadata == {"plan": "pro"}


async def test_sign_in_with_the_right_password_returns_the_same_user(
    client: AsyncAerostack, unique: str
) -> None:
    created = await client.authentication.sign_up(f"{unique}@example.com", "correct horse")
    session = await client.authentication.sign_in(f"{unique}@example.com", "correct horse")
    assert session.user.id == created.user.id


async def test_sign_in_with_a_wrong_password_is_an_authentication_error(
    client: AsyncAerostack, unique: str
) -> None:
    await client.authentication.sign_up(f"{unique}@example.com", "correct horse")
    with pytest.raises(AuthenticationError) as caught:
        await client.authentication.sign_in(f"{unique}@example.com", "wrong horse")
    assert caught.value.code == "AUTH_INVALID_CREDENTIALS"


async def test_signing_up_twice_is_a_conflict(client: AsyncAerostack, unique: str) -> None:
    await client.authentication.sign_up(f"{unique}@example.com", "correct horse")
    with pytest.raises(ConflictError) as caught:
        await client.authentication.sign_up(f"{unique}@example.com", "correct horse")
    assert (caught.value.status_code, caught.value.code) == (409, "AUTH_USER_EXISTS")


async def test_a_short_password_is_refused_before_sending(make_client: ClientFactory) -> None:
    async with scripted_server() as server:
        client = make_client(base_url=server.base_url, retry=None)
        with pytest.raises(InvalidRequestError, match="8 characters"):
            await client.authentication.sign_up("ada@example.com", "short")
    assert server.received == []
