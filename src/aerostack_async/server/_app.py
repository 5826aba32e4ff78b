"""The emulator's ASGI application: routing, keys, rate limits, idempotency, error envelope.

Route modules (``routes/*.py``) each export ``MODULE = RouteModule(...)``: their operations,
the SQL schema they need, and an optional background task. Everything every route shares —
authentication, ``X-Request-ID``, the error envelope, JSON body reading, ``Idempotency-Key`` —
happens here, once, so a handler only validates its fields and does its work.
"""

from __future__ import annotations

import functools
import logging
import secrets
import ssl
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any, Literal

import anyio
import httpx
import msgspec
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Mount, Route

from ._config import ServerConfig
from ._errors import ApiError, validation_error
from ._idempotency import MAX_KEY_LENGTH, StoredResponse, hash_body, scope_of
from ._idempotency import SCHEMA as IDEMPOTENCY_SCHEMA
from ._json_body import decode_json_body
from ._projects import Projects, project_of_key
from ._ratelimit import RateLimiter
from ._state import ServerState
from ._validation import Body

logger = logging.getLogger("aerostack_async.server")

KeyKind = Literal["secret", "public"]
_json_encode = msgspec.json.Encoder().encode


@dataclass
class Call:
    """One authenticated request, as a handler sees it."""

    request: Request
    state: ServerState
    api_key: str
    key_kind: KeyKind
    request_id: str
    # The JSON body, for operations with ``body="json"``; empty otherwise.
    body: Body = field(default_factory=lambda: Body({}))
    raw_body: bytes = b""
    # Set when the request carries an Idempotency-Key (used by handlers of raw bodies).
    idempotency_scope: str | None = None


Handler = Callable[[Call], Awaitable[Any]]


@dataclass(frozen=True)
class Operation:
    """One route of the API.

    A handler returns a JSON-encodable value (sent with ``status``) or a Starlette ``Response``
    (sent as is: streams, raw bytes).
    """

    path: str
    handler: Handler
    method: Literal["POST", "GET"] = "POST"
    status: int = 200
    secret_only: bool = False
    body: Literal["json", "raw", "none"] = "json"
    # No API key needed (the handler checks its own credentials, e.g. a signed URL).
    public: bool = False


@dataclass(frozen=True)
class RouteModule:
    """What a route module contributes to the app."""

    operations: Sequence[Operation]
    schema: str = ""
    background: Callable[[ServerState], Coroutine[Any, Any, None]] | None = None


def json_response(value: Any, status: int = 200) -> Response:
    """Encode ``value`` (dicts, lists, msgspec Structs) as a JSON response."""
    return Response(_json_encode(value), status_code=status, media_type="application/json")


def error_response(error: ApiError) -> Response:
    """The JSON error envelope for ``error``."""
    response = json_response(error.envelope(), error.status)
    response.headers.update(error.headers)
    return response


def _load_modules() -> list[RouteModule]:
    from .routes import ALL_MODULES

    return list(ALL_MODULES)


class _Gate:
    """Authentication and rate limiting, shared by every operation."""

    def __init__(self, config: ServerConfig, projects: Projects) -> None:
        self.keys: dict[str, KeyKind] = {config.api_key: "secret"}
        if config.public_key:
            self.keys[config.public_key] = "public"
        self.limiter = RateLimiter(config.rate_limit) if config.rate_limit else None
        self.projects = projects
        self.minting = config.projects

    async def project(self, request: Request) -> tuple[str, KeyKind, ServerState]:
        """The key, its kind and the project it reaches (minted on first use)."""
        key, kind, name = self.authenticate(request)
        if name is None:
            return key, kind, self.projects.default
        state = self.projects.get(name) or await self.projects.resolve(name)
        return key, kind, state

    def authenticate(self, request: Request) -> tuple[str, KeyKind, str | None]:
        """The key, its kind, and its project's name (None for the configured keys)."""
        key = request.headers.get("x-aerostack-key")
        if key is None:
            authorization = request.headers.get("authorization", "")
            scheme, _, credentials = authorization.partition(" ")
            if scheme.lower() == "bearer":
                key = credentials.strip()
        if not key:
            raise ApiError(401, "AUTH_INVALID_KEY", "Missing API key: send X-Aerostack-Key")
        # Compare against every configured key in constant time, so timing reveals nothing.
        kind: KeyKind | None = None
        for known, known_kind in self.keys.items():
            if secrets.compare_digest(key.encode(), known.encode()):
                kind = known_kind
        if kind is not None:
            return key, kind, None
        # sk_local_<name> keys are not secrets (anyone may mint one): no need for constant time.
        minted = project_of_key(key) if self.minting else None
        if minted is None:
            raise ApiError(401, "AUTH_INVALID_KEY", "Invalid API key")
        name, is_secret = minted
        return key, "secret" if is_secret else "public", name

    def admit(self, key: str) -> None:
        if self.limiter is None:
            return
        wait = self.limiter.acquire(key)
        if wait is not None:
            raise ApiError(
                429,
                "RATE_LIMIT_EXCEEDED",
                f"Rate limit exceeded; retry in {wait} s",
                {"retryAfter": wait},
                headers={"Retry-After": str(wait)},
            )


async def _read_limited(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise ApiError(413, "VALIDATION_ERROR", f"Request body is larger than {limit} bytes")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise ApiError(413, "VALIDATION_ERROR", f"Request body is larger than {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


def _parse_json_object(raw: bytes) -> dict[str, Any]:
    if not raw.strip():
        raise validation_error({"body": ["Required"]}, "Request body must be a JSON object")
    try:
        data = decode_json_body(raw)  # (400, not a 500, for a body nested too deep)
    except msgspec.DecodeError as exc:
        raise validation_error({"body": [str(exc)]}, "Request body is not valid JSON") from None
    if not isinstance(data, dict):
        raise validation_error({"body": ["Expected object"]}, "Request body must be a JSON object")
    return data


def _idempotency_key(request: Request) -> str | None:
    key = request.headers.get("idempotency-key")
    if key is None:
        return None
    if not key or len(key) > MAX_KEY_LENGTH:
        raise validation_error(
            {"Idempotency-Key": [f"Must be 1 to {MAX_KEY_LENGTH} characters"]},
            "Invalid Idempotency-Key header",
        )
    return key


def _log_request(request: Request, status: int, request_id: str) -> None:
    """One line per request, with the caller's W3C trace context when it sent one.

    A client that traces sends ``traceparent``; logging it (and our request id beside it) lets
    the emulator's log be joined to the caller's trace. ``--access-log`` turns these lines on.
    """
    traceparent = request.headers.get("traceparent")
    logger.info(
        "%s %s %d request %s traceparent %s",
        request.method,
        request.url.path,
        status,
        request_id,
        traceparent if traceparent and len(traceparent) <= 128 else "-",
    )


def _as_response(result: Any, status: int) -> Response:
    return result if isinstance(result, Response) else json_response(result, status)


def _endpoint(op: Operation, gate: _Gate) -> Any:
    route_name = op.path
    default = gate.projects.default

    async def endpoint(request: Request) -> Response:
        request_id = "req_" + secrets.token_hex(12)
        try:
            response = await _handle(request, request_id)
        except ApiError as error:
            response = error_response(error)
        except Exception:
            logger.exception("internal error in %s (request %s)", route_name, request_id)
            response = error_response(
                ApiError(500, "INTERNAL_ERROR", f"Internal error (request {request_id})")
            )
        response.headers["X-Request-ID"] = request_id
        if logger.isEnabledFor(logging.INFO):
            _log_request(request, response.status_code, request_id)
        return response

    async def _handle(request: Request, request_id: str) -> Response:
        if op.public:
            return _as_response(
                await op.handler(Call(request, default, "", "public", request_id)), op.status
            )
        api_key, kind, state = await gate.project(request)
        if op.secret_only and kind == "public":
            raise ApiError(403, "FORBIDDEN", "This route needs a secret key (sk_…)")
        gate.admit(api_key)
        call = Call(request, state, api_key, kind, request_id)
        idempotency_key = _idempotency_key(request) if op.method == "POST" else None
        if op.body != "json":
            if idempotency_key is not None:
                call.idempotency_scope = scope_of(idempotency_key, route_name, api_key)
            return _as_response(await op.handler(call), op.status)

        call.raw_body = await _read_limited(request, state.config.max_json_bytes)
        call.body = Body(_parse_json_object(call.raw_body))
        if idempotency_key is None:
            return _as_response(await op.handler(call), op.status)

        scope = scope_of(idempotency_key, route_name, api_key)
        body_hash = hash_body(call.raw_body)
        idem = state.idempotency
        async with idem.hold(scope):
            stored = await idem.get(scope, state.clock())
            if stored is not None:
                return replay(stored, body_hash)
            response = _as_response(await op.handler(call), op.status)
            body = getattr(response, "body", None)
            # Only complete, deterministic outcomes are kept: not streams, not 5xx or 429.
            if (
                isinstance(body, bytes)
                and response.status_code < 500
                and response.status_code != 429
            ):
                stored = StoredResponse(
                    body_hash,
                    response.status_code,
                    response.headers.get("content-type", "application/json"),
                    body,
                )
                await idem.put(scope, stored, state.clock())
            return response

    return endpoint


def replay(stored: StoredResponse, body_hash: str) -> Response:
    """The stored response again, or 422 if the body differs from the first request's."""
    if stored.body_hash != body_hash:
        raise ApiError(
            422,
            "VALIDATION_ERROR",
            "Idempotency-Key was already used with a different request body",
            {"fieldErrors": {"Idempotency-Key": ["Reused with a different body"]}},
        )
    response = Response(stored.body, status_code=stored.status, media_type=None)
    response.headers["content-type"] = stored.content_type
    response.headers["Idempotent-Replayed"] = "true"
    return response


async def _not_found(request: Request, exc: Exception) -> Response:
    status = getattr(exc, "status_code", 404)
    if status == 405:
        error = ApiError(405, "METHOD_NOT_ALLOWED", f"{request.method} is not allowed here")
    else:
        error = ApiError(404, "NOT_FOUND", f"No route {request.method} {request.url.path}")
    response = error_response(error)
    response.headers["X-Request-ID"] = "req_" + secrets.token_hex(12)
    return response


def create_app(config: ServerConfig, state: ServerState | None = None) -> Starlette:
    """Build the emulator for ``config`` (opening its data directory unless ``state`` is given).

    ``state`` is the default project's; other projects are minted by their keys (see
    ``_projects``). The app must run its lifespan (uvicorn does; so does
    ``aerostack_async.testing.in_process_client``).
    """
    state = state or ServerState.open(config)
    modules = _load_modules()
    schema = IDEMPOTENCY_SCHEMA + "".join(module.schema for module in modules)
    state.platform.run_sync(lambda conn: conn.executescript(schema))
    background = [_sweep_idempotency, _flush_idempotency] + [
        module.background for module in modules if module.background is not None
    ]
    projects = Projects(state, schema, background)
    gate = _Gate(config, projects)

    api_routes: list[BaseRoute] = [
        Route(op.path, _endpoint(op, gate), methods=[op.method])
        for module in modules
        for op in module.operations
    ]

    async def health(request: Request) -> Response:
        return json_response({"ok": True})

    async def drop_project(request: Request) -> Response:
        # Emulator-only (not part of the API): what the pytest plugin calls after each test.
        try:
            _, _, name = gate.authenticate(request)
            if name is None:
                raise ApiError(403, "FORBIDDEN", "The default project cannot be deleted")
            response = json_response({"deleted": await projects.drop(name)})
        except ApiError as error:
            response = error_response(error)
        response.headers["X-Request-ID"] = "req_" + secrets.token_hex(12)
        return response

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        async with (
            httpx.AsyncClient(timeout=httpx.Timeout(30.0), verify=_tls_context()) as http,
            projects.running(http),
        ):
            yield

    app = Starlette(
        routes=[
            Route("/health", health, methods=["GET"]),
            Route("/_emulator/project", drop_project, methods=["DELETE"]),
            Mount("/v1", routes=api_routes),
        ],
        exception_handlers={404: _not_found, 405: _not_found},
        lifespan=lifespan,
    )
    app.state.emulator = state
    app.state.projects = projects
    return app


@functools.lru_cache(maxsize=1)
def _tls_context() -> ssl.SSLContext:
    # Building one costs tens of milliseconds; in-process emulators (one per test) share it.
    return httpx.create_ssl_context()


async def _flush_idempotency(state: ServerState) -> None:
    await state.idempotency.flush_forever()


async def _sweep_idempotency(state: ServerState) -> None:
    while True:
        await state.idempotency.sweep(state.clock())
        await anyio.sleep(600)
