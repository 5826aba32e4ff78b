"""Result models travel: ``to_dict()``, ``msgspec.to_builtins`` + ``json``, and a FastAPI app.

The FastAPI app holds one ``AsyncAerostack`` (on the session's emulator) in its lifespan and
returns results from endpoints every way FastAPI users write them; it is served in-process by
our transport (which runs its lifespan), on asyncio and on trio.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated, Any

import httpx
import msgspec
import pytest

from aerostack_async import AsyncAerostack
from aerostack_async.models import (
    AuthResponse,
    CacheGetResult,
    CacheSetRequest,
    JobRecord,
    Model,
    ObjectMetadata,
    SearchQueryResult,
)
from aerostack_async.testing import Emulator, InProcessTransport, Project

fastapi = pytest.importorskip("fastapi")
pytestmark = pytest.mark.anyio


@pytest.fixture
def project(emulator: Emulator) -> Any:
    project = Project.fresh(emulator.base_url)
    yield project
    project.drop()


def client_of(request: fastapi.Request) -> AsyncAerostack:
    """The app's one client (the FastAPI dependency)."""
    return request.app.state.aerostack  # type: ignore[no-any-return]


# At module level: FastAPI resolves the endpoints' (string) annotations in this namespace.
Client = Annotated[AsyncAerostack, fastapi.Depends(client_of)]


def build_app(project: Project) -> Any:
    """A web service: one client for the app's lifetime, results returned as they come."""

    @asynccontextmanager
    async def lifespan(app: Any) -> AsyncIterator[None]:
        async with AsyncAerostack(api_key=project.api_key, base_url=project.base_url) as client:
            app.state.aerostack = client
            yield

    app = fastapi.FastAPI(lifespan=lifespan)

    @app.get("/cache/{key}")
    async def annotated(key: str, client: Client) -> CacheGetResult:
        return await client.cache.get(key)

    @app.get("/bare/{key}")
    async def bare(key: str, client: Client):  # type: ignore[no-untyped-def]
        return await client.cache.get(key)

    @app.post("/cache", response_model=CacheGetResult)
    async def set_and_get(entry: Annotated[CacheSetRequest, fastapi.Body()], client: Client) -> Any:
        await client.cache.set(entry.key, entry.value)
        return await client.cache.get(entry.key)

    @app.post("/signup")
    async def signup(client: Client) -> AuthResponse:
        return await client.authentication.sign_up("web@example.com", "password-1", name="Web")

    @app.get("/jobs")
    async def jobs(client: Client) -> list[JobRecord]:
        return [job async for job in client.queue.list_jobs()]

    @app.get("/metadata/{key}")
    async def metadata(key: str, client: Client) -> ObjectMetadata:
        return await client.storage.get_metadata(key)

    @app.get("/search")
    async def search(text: str, client: Client) -> SearchQueryResult:
        return await client.search.query(text)

    @app.get("/keys")
    async def keys(client: Client):  # type: ignore[no-untyped-def]
        # Bare, and a model with a field named "keys" (which rules out the mapping protocol).
        return await client.cache.keys()

    @app.get("/dict/{key}")
    async def as_dict(key: str, client: Client) -> dict[str, Any]:
        return (await client.cache.get(key)).to_dict()

    return app


@pytest.fixture
async def web(project: Project) -> AsyncIterator[tuple[httpx.AsyncClient, AsyncAerostack]]:
    transport = InProcessTransport(build_app(project))
    async with (
        httpx.AsyncClient(transport=transport, base_url="http://web") as http,
        AsyncAerostack(api_key=project.api_key, base_url=project.base_url) as direct,
    ):
        yield http, direct


def travels(result: Model) -> dict[str, Any]:
    """Check every way out for ``result``; return its ``to_dict()``."""
    as_dict = result.to_dict()
    assert json.loads(json.dumps(as_dict)) == as_dict
    assert msgspec.convert(as_dict, type(result)) == result
    assert json.loads(json.dumps(msgspec.to_builtins(result))) == msgspec.to_builtins(result)
    assert msgspec.json.decode(msgspec.json.encode(result), type=type(result)) == result
    assert vars(result).keys() == as_dict.keys()
    return as_dict


async def test_cache_results_are_returned_annotated_bare_and_as_response_model(
    web: tuple[httpx.AsyncClient, AsyncAerostack],
) -> None:
    http, direct = web
    await direct.cache.set("greeting", {"text": "hello", "n": [1, 2]})
    expected = travels(await direct.cache.get("greeting"))
    assert expected == {"exists": True, "value": {"text": "hello", "n": [1, 2]}}
    for path in ("/cache/greeting", "/bare/greeting", "/dict/greeting"):
        response = await http.get(path)
        assert response.status_code == 200, response.text
        assert response.json() == expected
    keys = await http.get("/keys")
    assert keys.status_code == 200, keys.text
    assert keys.json() == travels(await direct.cache.keys())
    assert "greeting" in keys.json()["keys"]
    missing = await http.get("/cache/nothing-here")
    # Every field, defaults included (to_builtins would leave value out: it is the default).
    assert missing.json() == {"exists": False, "value": None}
    posted = await http.post("/cache", json={"key": "posted", "value": 3})
    assert posted.json() == {"exists": True, "value": 3}
    refused = await http.post("/cache", json={"value": 3})
    assert refused.status_code == 422
    assert "key" in refused.text


async def test_nested_results_with_datetimes_travel_with_wire_names(
    web: tuple[httpx.AsyncClient, AsyncAerostack],
) -> None:
    http, direct = web
    response = await http.post("/signup")
    assert response.status_code == 200, response.text
    body = response.json()
    assert set(body) == {"token", "expiresAt", "user"}
    assert set(body["user"]) == {"id", "email", "name", "createdAt", "metadata"}
    signed_in = await direct.authentication.sign_in("web@example.com", "password-1")
    assert travels(signed_in)["user"] == body["user"]
    assert signed_in.to_dict(python_names=True)["user"]["created_at"] == body["user"]["createdAt"]
    assert isinstance(body["expiresAt"], str)

    await direct.queue.enqueue("web.job", {"a": 1})
    jobs = (await http.get("/jobs")).json()
    listed = [job async for job in direct.queue.list_jobs()]
    assert jobs == [travels(job) for job in listed]
    assert "createdAt" in jobs[0]
    assert "created_at" in listed[0].to_dict(python_names=True)

    await direct.storage.upload("web.txt", b"hello web")
    metadata = (await http.get("/metadata/web.txt")).json()
    assert metadata == travels(await direct.storage.get_metadata("web.txt"))
    assert metadata["size"] == 9

    await direct.search.ingest("models travel to the web", "note", id="doc-1")
    found = (await http.get("/search", params={"text": "models travel"})).json()
    assert found == travels(await direct.search.query("models travel"))
    assert found["results"][0]["id"] == "doc-1"


async def test_the_openapi_schema_describes_results_by_their_wire_names(
    web: tuple[httpx.AsyncClient, AsyncAerostack],
) -> None:
    http, _ = web
    schema = (await http.get("/openapi.json")).json()
    assert schema["openapi"].startswith("3.")
    responses = schema["paths"]["/signup"]["post"]["responses"]["200"]
    described = responses["content"]["application/json"]["schema"]
    assert set(described["properties"]) == {"token", "expiresAt", "user"}
    assert "createdAt" in described["properties"]["user"]["properties"]
    assert "$ref" not in json.dumps(described)


def test_importing_the_client_and_its_models_does_not_import_pydantic() -> None:
    code = (
        "import sys, aerostack_async, aerostack_async.models\n"
        "aerostack_async.models.CacheGetResult(exists=True).to_dict()\n"
        "print('pydantic' in sys.modules, 'fastapi' in sys.modules)\n"
    )
    ran = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert ran.stdout.split() == ["False", "False"]
