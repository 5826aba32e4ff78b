"""``SDK``: the seed SDK's surface (``aerostack==0.1.2``) on top of the async core.

Code written for the seed keeps working when its imports change:

    from aerostack import SDK                      ->  from aerostack_async import SDK
    from aerostack.utils import RetryConfig, ...   ->  from aerostack_async.utils import ...
    from aerostack.httpclient import ...           ->  from aerostack_async.httpclient import ...
    from aerostack import errors                   ->  from aerostack_async import errors

Every seed operation is here twice, ``op`` (blocking) and ``op_async``, taking ``request={...}``
with the seed's field names (snake_case or the wire's camelCase) and the per-call ``retries``,
``server_url``, ``timeout_ms`` and ``http_headers``. Each operation is written once, as an async
function of the core client: the ``_async`` form awaits it on the caller's loop; the blocking
form runs it on the sync facade's portal thread (see ``_sync.py``). Responses are the core's
types, whose attribute names are the seed's (``res.response``, ``res.job_id``, ``res.value``…),
and errors are the core's classes, which the seed's names alias.

The seed's whole surface lives in this package: ``SDK`` here, its retry settings in
`aerostack_async.compat.utils` and its client protocols in
`aerostack_async.compat.httpclient` (also importable as ``aerostack_async.utils`` and
``aerostack_async.httpclient``, the seed's paths). The blocking forms run on the sync facade's
one loop thread (``_sync._LoopThread``), not a second mechanism of their own.
"""

from __future__ import annotations

import enum
import logging
from collections.abc import Awaitable, Callable, Mapping
from types import TracebackType
from typing import TYPE_CHECKING, Any, Final, TypedDict, TypeVar

import anyio.lowlevel
import msgspec

from .. import _sync_surface
from .._constants import SERVERS
from .._options import CallOptions, RetryPolicy, Unpack
from .._sync import _LoopThread
from ..errors import ConfigurationError, InvalidArgumentTypeError, InvalidRequestError
from ..models._base import Success
from .utils import RetryConfig

if TYPE_CHECKING:
    from typing_extensions import Self

    from .._client import AsyncAerostack
    from ..models.ai import ChatCompletion
    from ..models.authentication import AuthResponse
    from ..models.cache import CacheGetResult
    from ..models.database import QueryResult
    from ..models.queue import EnqueueResult
    from ..models.services import InvokeResult
    from ..models.storage import UploadResult

__all__ = ["SDK", "SERVERS", "UNSET", "SeedCallOptions"]

T = TypeVar("T")

"""The seed's server list: ``server_idx=0`` is production, ``server_idx=1`` the local emulator."""

# Headers the core sets itself (or refuses from callers); a supplied client's copies are dropped.
_OWN_HEADERS: Final = frozenset(
    {
        "host",
        "user-agent",
        "accept",
        "accept-encoding",
        "connection",
        "content-type",
        "content-length",
        "x-aerostack-key",
        "authorization",
    }
)


class _Unset:
    """The seed's ``UNSET``: "not given", as opposed to an explicit ``None``."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "UNSET"

    def __bool__(self) -> bool:
        return False


UNSET: Final = _Unset()
"""Marks an argument as not given (``retries=UNSET`` uses the SDK's ``retry_config``)."""


class SeedCallOptions(TypedDict, total=False):
    """The seed's per-call options, accepted by every operation."""

    retries: RetryConfig | _Unset | None
    server_url: str | None
    timeout_ms: int | None
    http_headers: Mapping[str, str] | None


# --- requests ------------------------------------------------------------------------------


def _as_mapping(name: str, value: object) -> Mapping[str, Any]:
    """A request given as a dict, a seed (pydantic) model or a msgspec Struct, as a mapping."""
    if isinstance(value, Mapping):
        return value
    if isinstance(value, msgspec.Struct):
        return msgspec.structs.asdict(value)
    dump = getattr(value, "model_dump", None)
    if callable(dump):
        dumped = _without_enums(dump(exclude_none=True))
        if isinstance(dumped, Mapping):
            return dumped
    raise InvalidArgumentTypeError(f"{name} must be a dict, not {type(value).__name__}")


def _without_enums(value: Any) -> Any:
    # A seed model's dump keeps its enums (``Role.USER``); the core wants their plain values.
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, dict):
        return {k: _without_enums(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_without_enums(v) for v in value]
    return value


def _fields(
    op: str, request: object, names: Mapping[str, str], required: tuple[str, ...]
) -> dict[str, Any]:
    """The request's fields under their canonical names; unknown or missing ones are errors.

    ``names`` maps every accepted spelling (the seed's snake_case attribute and the wire name)
    to the canonical one.
    """
    given = _as_mapping("request", request)
    fields: dict[str, Any] = {}
    for key, value in given.items():
        canonical = names.get(key)
        if canonical is None:
            accepted = ", ".join(sorted(set(names)))
            raise InvalidRequestError(f"{op}: unknown request field {key!r} (accepted: {accepted})")
        if canonical in fields:
            raise InvalidRequestError(f"{op}: request field {canonical!r} is given twice")
        fields[canonical] = value
    for name in required:
        if name not in fields:
            raise InvalidRequestError(f"{op}: request field {name!r} is required")
    return fields


def _messages(value: object) -> object:
    # Seed messages may be pydantic models; the core takes dicts or its own Structs.
    if isinstance(value, (list, tuple)):
        return [m if isinstance(m, (Mapping, str)) else _as_mapping("message", m) for m in value]
    return value


# --- the operations, each written once --------------------------------------------------------


async def _ai_chat(client: AsyncAerostack, request: object, options: CallOptions) -> ChatCompletion:
    names = {n: n for n in ("messages", "model", "temperature", "max_tokens", "top_p")}
    fields = _fields("ai_chat", request, names, ("messages",))
    messages = _messages(fields.pop("messages"))
    return await client.ai.chat(messages, **fields, **options)  # type: ignore[arg-type]


async def _auth_signin(
    client: AsyncAerostack, request: object, options: CallOptions
) -> AuthResponse:
    names = {"email": "email", "password": "password"}
    fields = _fields("auth_signin", request, names, ("email", "password"))
    return await client.authentication.sign_in(fields["email"], fields["password"], **options)


async def _auth_signup(
    client: AsyncAerostack, request: object, options: CallOptions
) -> AuthResponse:
    names = {n: n for n in ("email", "password", "name", "metadata")}
    fields = _fields("auth_signup", request, names, ("email", "password"))
    return await client.authentication.sign_up(
        fields.pop("email"), fields.pop("password"), **fields, **options
    )


async def _cache_get(
    client: AsyncAerostack, request: object, options: CallOptions
) -> CacheGetResult:
    fields = _fields("cache_get", request, {"key": "key"}, ("key",))
    return await client.cache.get(fields["key"], **options)


async def _cache_set(client: AsyncAerostack, request: object, options: CallOptions) -> Success:
    names = {"key": "key", "value": "value", "ttl": "ttl"}
    fields = _fields("cache_set", request, names, ("key", "value"))
    return await client.cache.set(fields["key"], fields["value"], ttl=fields.get("ttl"), **options)


async def _db_query(
    client: AsyncAerostack, request: object, options: CallOptions
) -> QueryResult[dict[str, Any]]:
    fields = _fields("db_query", request, {"sql": "sql", "params": "params"}, ("sql",))
    return await client.database.query(fields["sql"], fields.get("params"), **options)


async def _queue_enqueue(
    client: AsyncAerostack, request: object, options: CallOptions
) -> EnqueueResult:
    names = {"type": "type", "data": "data", "delay": "delay"}
    fields = _fields("queue_enqueue", request, names, ("type", "data"))
    return await client.queue.enqueue(
        fields["type"], fields["data"], delay=fields.get("delay"), **options
    )


async def _services_invoke(
    client: AsyncAerostack, request: object, options: CallOptions
) -> InvokeResult:
    names = {"service_name": "service_name", "serviceName": "service_name", "data": "data"}
    fields = _fields("services_invoke", request, names, ("service_name", "data"))
    return await client.services.invoke(fields["service_name"], fields["data"], **options)


_FILE_NAMES: Final = {
    "content": "content",
    "file_name": "file_name",
    "fileName": "file_name",
    "content_type": "content_type",
    "Content-Type": "content_type",
    "contentType": "content_type",
}


async def _storage_upload(
    client: AsyncAerostack, request: object, options: CallOptions
) -> UploadResult:
    names = {"file": "file", "key": "key", "content_type": "content_type"}
    names["contentType"] = "content_type"
    fields = _fields("storage_upload", request, names, ("file", "key"))
    file = _fields("storage_upload file", fields["file"], _FILE_NAMES, ("content",))
    # The server names the object by ``key``; the seed's ``file_name`` only labelled the part.
    content_type = fields.get("content_type") or file.get("content_type")
    return await client.storage.upload(
        fields["key"], file["content"], content_type=content_type, **options
    )


# --- the SDK --------------------------------------------------------------------------------

_Operation = Callable[["AsyncAerostack", object, CallOptions], Awaitable[T]]


class SDK:
    """The seed SDK's client, with the same constructor and operations.

    Example:
        ```python
        from aerostack_async import SDK

        with SDK(api_key_auth="sk_...", server_idx=1) as sdk:
            res = sdk.ai.ai_chat(request={"messages": [{"role": "user", "content": "Hi"}]})
            print(res.response)
        ```

    ``server_idx=1`` (or ``server_url=``) points it at the local emulator. A supplied
    ``async_client`` sends the ``_async`` operations' requests (its headers included); a
    supplied ``client``'s headers are sent by the blocking operations. ``debug_logger``
    receives this package's debug log (requests, statuses, timings; never a key).
    """

    ai: AI
    authentication: Authentication
    cache: Cache
    database: Database
    queue: Queue
    services: Services
    storage: Storage

    def __init__(
        self,
        api_key_auth: str | Callable[[], str] | None = None,
        server_idx: int | None = None,
        server_url: str | None = None,
        url_params: Mapping[str, str] | None = None,
        client: Any = None,
        async_client: Any = None,
        retry_config: RetryConfig | _Unset | None = UNSET,
        timeout_ms: int | None = None,
        debug_logger: Any = None,
    ) -> None:
        base_url = _server(server_idx, server_url, url_params)
        if retry_config is not UNSET and not isinstance(retry_config, (RetryConfig, type(None))):
            raise ConfigurationError("retry_config must be a RetryConfig or None")
        self._retry_config = retry_config
        core: dict[str, Any] = {"base_url": base_url}
        if api_key_auth is not None:
            core["api_key"] = api_key_auth
        if timeout_ms is not None:
            core["timeout"] = _seconds("timeout_ms", timeout_ms)
        if retry_config is not UNSET:
            core["retry"] = _policy(retry_config)  # type: ignore[arg-type]
        if debug_logger is not None:
            _forward_debug_log(debug_logger)
        sync_core = dict(core, default_headers=_headers_of(client))
        async_core = dict(core, default_headers=_headers_of(async_client))
        if async_client is not None:
            async_core["http_client"] = _as_core_http_client(async_client)
        self._async_core_kwargs = async_core
        self._async_core: AsyncAerostack | None = None
        self._async_loop: object = None
        self._loop = _LoopThread(
            lambda: _new_core(sync_core), backend="asyncio", backend_options=None, owner="SDK"
        )
        self.ai = AI(self)
        self.authentication = Authentication(self)
        self.cache = Cache(self)
        self.database = Database(self)
        self.queue = Queue(self)
        self.services = Services(self)
        self.storage = Storage(self)

    # -- running one operation ---------------------------------------------------------------

    def _call_options(self, options: SeedCallOptions) -> tuple[str | None, CallOptions]:
        unknown = set(options) - set(SeedCallOptions.__annotations__)
        if unknown:
            raise InvalidRequestError(f"unknown option(s): {', '.join(sorted(unknown))}")
        call: CallOptions = {}
        retries = options.get("retries", UNSET)
        if retries is UNSET:
            retries = self._retry_config
        if retries is not UNSET:
            if not isinstance(retries, (RetryConfig, type(None))):
                raise InvalidArgumentTypeError("retries must be a RetryConfig or None")
            call["retry"] = _policy(retries)
        timeout_ms = options.get("timeout_ms")
        if timeout_ms is not None:
            call["timeout"] = _seconds("timeout_ms", timeout_ms)
        headers = options.get("http_headers")
        if headers:
            call["extra_headers"] = dict(headers)
        return options.get("server_url"), call

    def _run(self, operation: _Operation[T], request: object, options: SeedCallOptions) -> T:
        server_url, call = self._call_options(options)
        core = self._loop.root()
        return self._loop.call(_on, core, server_url, operation, request, call)  # type: ignore[no-any-return]

    async def _arun(self, operation: _Operation[T], request: object, options: SeedCallOptions) -> T:
        server_url, call = self._call_options(options)
        core = self._async_core
        loop = anyio.lowlevel.current_token().native_token
        if core is None or loop is not self._async_loop:
            # Connections belong to the loop that opened them: a script that calls
            # asyncio.run() twice with one SDK gets a fresh pool on the second loop.
            core = self._async_core = _new_core(self._async_core_kwargs)
            self._async_loop = loop
        return await _on(core, server_url, operation, request, call)

    # -- lifecycle ---------------------------------------------------------------------------

    def close(self) -> None:
        """Close the blocking side (its loop thread and connections); safe to call twice."""
        self._loop.close()

    async def aclose(self) -> None:
        """Close the async side's connections (the ones ``_async`` operations used)."""
        core, self._async_core, self._async_loop = self._async_core, None, None
        if core is not None:
            await core.aclose()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    def __del__(self) -> None:
        # The seed closed its clients in a finalizer; stop our loop thread the same quiet way.
        loop = getattr(self, "_loop", None)
        if loop is not None:
            loop.abandon()

    def __repr__(self) -> str:
        return f"<SDK base_url={self._async_core_kwargs['base_url']!r}>"


async def _on(
    core: AsyncAerostack,
    server_url: str | None,
    operation: _Operation[T],
    request: object,
    call: CallOptions,
) -> T:
    client = core if server_url is None else core.with_options(base_url=server_url.rstrip("/"))
    return await operation(client, request, call)


def _new_core(kwargs: dict[str, Any]) -> AsyncAerostack:
    from .._client import AsyncAerostack

    return AsyncAerostack(**kwargs)


def _server(index: int | None, url: str | None, params: Mapping[str, str] | None) -> str:
    if url is not None:
        if not isinstance(url, str):
            raise ConfigurationError("server_url must be a str")
        for name, value in (params or {}).items():
            url = url.replace("{" + name + "}", value)
        return url.rstrip("/")
    if index is None:
        index = 0
    if isinstance(index, bool) or not isinstance(index, int) or not 0 <= index < len(SERVERS):
        raise ConfigurationError(f"server_idx must be 0 or 1, not {index!r}")
    return SERVERS[index]


def _seconds(name: str, milliseconds: object) -> float:
    if isinstance(milliseconds, bool) or not isinstance(milliseconds, (int, float)):
        raise InvalidArgumentTypeError(f"{name} must be a number of milliseconds")
    if milliseconds <= 0:
        raise InvalidRequestError(f"{name} must be positive")
    return milliseconds / 1000


def _policy(config: RetryConfig | None) -> RetryPolicy | None:
    return None if config is None else config.to_retry_policy()


def _headers_of(client: object) -> dict[str, str]:
    """The default headers set on a supplied httpx client (our transport builds its own)."""
    headers = getattr(client, "headers", None)
    if not isinstance(headers, Mapping):
        return {}
    return {k: v for k, v in headers.items() if k.lower() not in _OWN_HEADERS}


class _SeedClientWrapper:
    """A seed-style ``AsyncHttpClient`` (only ``send``) given the ``headers`` the core reads.

    The seed's protocol asked for ``send`` and ``build_request`` only, so a wrapper written
    for it (the README's ``CustomClient``) may have no ``headers``; its headers, if any, are
    whatever its ``send`` adds.
    """

    __slots__ = ("_client", "headers")

    def __init__(self, client: Any) -> None:
        self._client = client
        self.headers: dict[str, str] = {}

    async def send(self, request: Any, **kwargs: Any) -> Any:
        """Send through the wrapped client."""
        return await self._client.send(request, **kwargs)


def _as_core_http_client(client: Any) -> Any:
    if not callable(getattr(client, "send", None)):
        raise ConfigurationError("async_client must have an async send() (an httpx.AsyncClient)")
    return client if hasattr(client, "headers") else _SeedClientWrapper(client)


class _ForwardToLogger(logging.Handler):
    """Hands this package's log records to the seed-style ``debug_logger``."""

    def __init__(self, target: Any) -> None:
        super().__init__(logging.DEBUG)
        self.target = target

    def emit(self, record: logging.LogRecord) -> None:
        self.target.debug(record.getMessage())


def _forward_debug_log(target: Any) -> None:
    if not callable(getattr(target, "debug", None)):
        raise ConfigurationError("debug_logger must have a debug() method (a logging.Logger)")
    package = logging.getLogger("aerostack_async")
    if package.getEffectiveLevel() > logging.DEBUG:
        package.setLevel(logging.DEBUG)
    if target is package:
        return
    for handler in package.handlers:
        if isinstance(handler, _ForwardToLogger) and handler.target is target:
            return
    package.addHandler(_ForwardToLogger(target))


# --- the resources: each seed operation, blocking and async -----------------------------------


class _SeedResource:
    __slots__ = ("_sdk",)

    def __init__(self, sdk: SDK) -> None:
        self._sdk = sdk


class AI(_SeedResource):
    """AI/ML operations."""

    __slots__ = ()

    def ai_chat(self, *, request: object, **options: Unpack[SeedCallOptions]) -> ChatCompletion:
        """Generate an AI chat completion (``res.response`` is its text)."""
        return self._sdk._run(_ai_chat, request, options)

    async def ai_chat_async(
        self, *, request: object, **options: Unpack[SeedCallOptions]
    ) -> ChatCompletion:
        """Generate an AI chat completion (``res.response`` is its text)."""
        return await self._sdk._arun(_ai_chat, request, options)


class Authentication(_SeedResource):
    """User authentication and management."""

    __slots__ = ()

    def auth_signin(self, *, request: object, **options: Unpack[SeedCallOptions]) -> AuthResponse:
        """Sign a user in (``res.token``, ``res.expires_at``, ``res.user``)."""
        return self._sdk._run(_auth_signin, request, options)

    async def auth_signin_async(
        self, *, request: object, **options: Unpack[SeedCallOptions]
    ) -> AuthResponse:
        """Sign a user in (``res.token``, ``res.expires_at``, ``res.user``)."""
        return await self._sdk._arun(_auth_signin, request, options)

    def auth_signup(self, *, request: object, **options: Unpack[SeedCallOptions]) -> AuthResponse:
        """Sign a user up (``res.token``, ``res.expires_at``, ``res.user``)."""
        return self._sdk._run(_auth_signup, request, options)

    async def auth_signup_async(
        self, *, request: object, **options: Unpack[SeedCallOptions]
    ) -> AuthResponse:
        """Sign a user up (``res.token``, ``res.expires_at``, ``res.user``)."""
        return await self._sdk._arun(_auth_signup, request, options)


class Cache(_SeedResource):
    """Key-value caching."""

    __slots__ = ()

    def cache_get(self, *, request: object, **options: Unpack[SeedCallOptions]) -> CacheGetResult:
        """Read a value (``res.exists``, ``res.value``)."""
        return self._sdk._run(_cache_get, request, options)

    async def cache_get_async(
        self, *, request: object, **options: Unpack[SeedCallOptions]
    ) -> CacheGetResult:
        """Read a value (``res.exists``, ``res.value``)."""
        return await self._sdk._arun(_cache_get, request, options)

    def cache_set(self, *, request: object, **options: Unpack[SeedCallOptions]) -> Success:
        """Store a value (``res.success``)."""
        return self._sdk._run(_cache_set, request, options)

    async def cache_set_async(
        self, *, request: object, **options: Unpack[SeedCallOptions]
    ) -> Success:
        """Store a value (``res.success``)."""
        return await self._sdk._arun(_cache_set, request, options)


class Database(_SeedResource):
    """SQL database operations."""

    __slots__ = ()

    def db_query(
        self, *, request: object, **options: Unpack[SeedCallOptions]
    ) -> QueryResult[dict[str, Any]]:
        """Run one SQL statement (``res.results``, ``res.count``)."""
        return self._sdk._run(_db_query, request, options)

    async def db_query_async(
        self, *, request: object, **options: Unpack[SeedCallOptions]
    ) -> QueryResult[dict[str, Any]]:
        """Run one SQL statement (``res.results``, ``res.count``)."""
        return await self._sdk._arun(_db_query, request, options)


class Queue(_SeedResource):
    """Background job queue."""

    __slots__ = ()

    def queue_enqueue(
        self, *, request: object, **options: Unpack[SeedCallOptions]
    ) -> EnqueueResult:
        """Enqueue a job (``res.job_id``, ``res.success``)."""
        return self._sdk._run(_queue_enqueue, request, options)

    async def queue_enqueue_async(
        self, *, request: object, **options: Unpack[SeedCallOptions]
    ) -> EnqueueResult:
        """Enqueue a job (``res.job_id``, ``res.success``)."""
        return await self._sdk._arun(_queue_enqueue, request, options)


class Services(_SeedResource):
    """Cross-service invocation."""

    __slots__ = ()

    def services_invoke(
        self, *, request: object, **options: Unpack[SeedCallOptions]
    ) -> InvokeResult:
        """Invoke a project service (``res.success``, ``res.result``)."""
        return self._sdk._run(_services_invoke, request, options)

    async def services_invoke_async(
        self, *, request: object, **options: Unpack[SeedCallOptions]
    ) -> InvokeResult:
        """Invoke a project service (``res.success``, ``res.result``)."""
        return await self._sdk._arun(_services_invoke, request, options)


class Storage(_SeedResource):
    """File storage."""

    __slots__ = ()

    def storage_upload(
        self, *, request: object, **options: Unpack[SeedCallOptions]
    ) -> UploadResult:
        """Upload a file, streamed from ``request["file"]["content"]`` (``res.url``)."""
        return self._sdk._run(_storage_upload, request, options)

    async def storage_upload_async(
        self, *, request: object, **options: Unpack[SeedCallOptions]
    ) -> UploadResult:
        """Upload a file, streamed from ``request["file"]["content"]`` (``res.url``)."""
        return await self._sdk._arun(_storage_upload, request, options)


# Each ``op`` shows the signature of its ``op_async`` twin, with the annotations resolved (the
# response types are imported for type checkers only), for help() and notebooks' inspectors.
_sync_surface.describe_twins(AI, Authentication, Cache, Database, Queue, Services, Storage)
