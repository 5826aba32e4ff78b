"""Conformance (raw HTTP): /auth/signup and /auth/signin."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import datetime, timezone
from typing import Any

import httpx
import jwt
import pytest

from aerostack_async.testing import Emulator


@pytest.fixture
def http(emulator: Emulator) -> Iterator[httpx.Client]:
    with httpx.Client(
        base_url=emulator.base_url, headers={"X-Aerostack-Key": emulator.api_key}, timeout=30
    ) as client:
        yield client


def new_email() -> str:
    return f"user-{uuid.uuid4().hex[:12]}@example.com"


def signup(http: httpx.Client, **body: Any) -> httpx.Response:
    body.setdefault("email", new_email())
    body.setdefault("password", "correct horse")
    return http.post("/auth/signup", json=body)


def parse_time(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def test_signup_is_201_with_token_expiry_and_user(http: httpx.Client) -> None:
    email = new_email()
    response = signup(http, email=email, name="Ada", metadata={"plan": "pro", "n": [1, 2]})
    assert response.status_code == 201
    body = response.json()
    assert isinstance(body["token"], str)
    assert parse_time(body["expiresAt"]) > datetime.now(timezone.utc)
    user = body["user"]
    assert uuid.UUID(user["id"])
    assert user["email"] == email
    assert user["name"] == "Ada"
    assert user["metadata"] == {"plan": "pro", "n": [1, 2]}
    assert parse_time(user["createdAt"]).tzinfo is not None


def test_signup_without_name_or_metadata_gives_null_and_empty_object(http: httpx.Client) -> None:
    user = signup(http).json()["user"]
    assert user["name"] is None
    assert user["metadata"] == {}


def test_token_is_an_hs256_jwt_for_the_user(http: httpx.Client) -> None:
    body = signup(http).json()
    assert jwt.get_unverified_header(body["token"])["alg"] == "HS256"
    claims = jwt.decode(body["token"], options={"verify_signature": False})
    assert claims["sub"] == body["user"]["id"]
    assert claims["email"] == body["user"]["email"]
    assert claims["exp"] == int(parse_time(body["expiresAt"]).timestamp())
    assert claims["iat"] < claims["exp"]


def test_signup_of_an_existing_email_in_other_case_is_409(http: httpx.Client) -> None:
    email = new_email()
    assert signup(http, email=email).status_code == 201
    response = signup(http, email=email.upper())
    assert response.status_code == 409
    assert response.json()["code"] == "AUTH_USER_EXISTS"


def test_signup_with_short_password_is_400_on_password(http: httpx.Client) -> None:
    response = signup(http, password="1234567")
    assert response.status_code == 400
    assert list(response.json()["details"]["fieldErrors"]) == ["password"]


def test_signup_with_invalid_email_is_400_on_email(http: httpx.Client) -> None:
    response = signup(http, email="not an email")
    assert response.status_code == 400
    assert list(response.json()["details"]["fieldErrors"]) == ["email"]


def test_signup_reports_every_missing_field(http: httpx.Client) -> None:
    response = http.post("/auth/signup", json={})
    assert response.status_code == 400
    assert set(response.json()["details"]["fieldErrors"]) == {"email", "password"}


def test_signup_with_wrong_types_is_400(http: httpx.Client) -> None:
    response = signup(http, name=5, metadata=[1])
    assert response.status_code == 400
    assert set(response.json()["details"]["fieldErrors"]) == {"name", "metadata"}


def test_signup_accepts_unusual_but_valid_addresses(http: httpx.Client) -> None:
    email = f"o'brien+{uuid.uuid4().hex[:8]}@mail.example.co.uk"
    assert signup(http, email=email).status_code == 201


def test_signin_returns_the_same_user(http: httpx.Client) -> None:
    email = new_email()
    created = signup(http, email=email, name="Bo").json()["user"]
    response = http.post("/auth/signin", json={"email": email, "password": "correct horse"})
    assert response.status_code == 200
    body = response.json()
    assert body["user"] == created
    assert isinstance(body["token"], str)


def test_signin_matches_email_case_insensitively(http: httpx.Client) -> None:
    email = new_email()
    signup(http, email=email)
    response = http.post("/auth/signin", json={"email": email.upper(), "password": "correct horse"})
    assert response.status_code == 200
    assert response.json()["user"]["email"] == email


def test_signin_with_wrong_password_is_401_invalid_credentials(http: httpx.Client) -> None:
    email = new_email()
    signup(http, email=email)
    response = http.post("/auth/signin", json={"email": email, "password": "wrong horse"})
    assert response.status_code == 401
    assert response.json()["code"] == "AUTH_INVALID_CREDENTIALS"


def test_signin_of_unknown_email_is_indistinguishable_from_wrong_password(
    http: httpx.Client,
) -> None:
    email = new_email()
    signup(http, email=email)
    wrong = http.post("/auth/signin", json={"email": email, "password": "wrong horse"})
    unknown = http.post("/auth/signin", json={"email": new_email(), "password": "wrong horse"})
    assert unknown.status_code == wrong.status_code == 401
    assert unknown.json() == wrong.json()


def test_signin_without_password_is_400(http: httpx.Client) -> None:
    response = http.post("/auth/signin", json={"email": new_email()})
    assert response.status_code == 400
    assert list(response.json()["details"]["fieldErrors"]) == ["password"]
