"""Every code example of the seed SDK's README runs against the emulator.

Each snippet below is copied verbatim from ``seed-aerostack-0.1.2-readme.txt``; :func:`port`
then makes exactly the documented changes and nothing else:

- the imports are renamed (``aerostack`` -> ``aerostack_async``);
- the server is pointed at the emulator: ``api_key_auth="<YOUR_API_KEY_HERE>"`` becomes the
  emulator's key and ``server_url`` its base URL (a ``server_url`` already there is replaced;
  a constructor without a key gets both).

Three README snippets are not valid Python as printed (in the seed too); their tests say so
and apply the smallest fix: the per-call retry example passes ``RetryConfig`` positionally
after a keyword argument (a ``SyntaxError``; the seed's parameter is ``retries=``), the custom
client example uses ``Union``/``Optional``/``Any`` without importing them, and the resource
management example's ``with`` blocks hold only a comment.
"""

from __future__ import annotations

import asyncio
import builtins
import re
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

import anyio
import pytest

from aerostack_async.testing import Emulator

from .conftest import RecordingServer

# --- the README's snippets, verbatim ---------------------------------------------------------

UV_SCRIPT = """\
#!/usr/bin/env -S uv run --script
# /// script
# requires-python = ">=3.10"
# dependencies = [
#     "aerostack",
# ]
# ///

from aerostack import SDK

sdk = SDK(
  # SDK arguments
)

# Rest of script here...
"""

SYNC_EXAMPLE = """\
# Synchronous Example
from aerostack import SDK

with SDK(
    api_key_auth="<YOUR_API_KEY_HERE>",
) as sdk:

    res = sdk.ai.ai_chat(request={
        "messages": [
            {},
        ],
        "model": "@cf/meta/llama-3-8b-instruct",
    })

    # Handle response
    print(res)
"""

ASYNC_EXAMPLE = """\
# Asynchronous Example
from aerostack import SDK
import asyncio

async def main():

    async with SDK(
        api_key_auth="<YOUR_API_KEY_HERE>",
    ) as sdk:

        res = await sdk.ai.ai_chat_async(request={
            "messages": [
                {},
            ],
            "model": "@cf/meta/llama-3-8b-instruct",
        })

        # Handle response
        print(res)

asyncio.run(main())
"""

AUTHENTICATION_EXAMPLE = """\
from aerostack import SDK

with SDK(
    api_key_auth="<YOUR_API_KEY_HERE>",
) as sdk:

    res = sdk.ai.ai_chat(request={
        "messages": [
            {},
        ],
        "model": "@cf/meta/llama-3-8b-instruct",
    })

    # Handle response
    print(res)
"""

FILE_UPLOAD_EXAMPLE = """\
from aerostack import SDK

with SDK(
    api_key_auth="<YOUR_API_KEY_HERE>",
) as sdk:

    res = sdk.storage.storage_upload(request={
        "content_type": "image/jpeg",
        "file": {
            "content": open("example.file", "rb"),
            "file_name": "example.file",
        },
        "key": "avatars/user-123.jpg",
    })

    # Handle response
    print(res)
"""

PER_CALL_RETRY_EXAMPLE = """\
from aerostack import SDK
from aerostack.utils import BackoffStrategy, RetryConfig

with SDK(
    api_key_auth="<YOUR_API_KEY_HERE>",
) as sdk:

    res = sdk.ai.ai_chat(request={
        "messages": [
            {},
        ],
        "model": "@cf/meta/llama-3-8b-instruct",
    },
        RetryConfig("backoff", BackoffStrategy(1, 50, 1.1, 100), False))

    # Handle response
    print(res)
"""

GLOBAL_RETRY_EXAMPLE = """\
from aerostack import SDK
from aerostack.utils import BackoffStrategy, RetryConfig

with SDK(
    retry_config=RetryConfig("backoff", BackoffStrategy(1, 50, 1.1, 100), False),
    api_key_auth="<YOUR_API_KEY_HERE>",
) as sdk:

    res = sdk.ai.ai_chat(request={
        "messages": [
            {},
        ],
        "model": "@cf/meta/llama-3-8b-instruct",
    })

    # Handle response
    print(res)
"""

ERROR_HANDLING_EXAMPLE = """\
from aerostack import SDK, errors

with SDK(
    api_key_auth="<YOUR_API_KEY_HERE>",
) as sdk:
    res = None
    try:

        res = sdk.authentication.auth_signin(request={
            "email": "Tina.Buckridge@yahoo.com",
            "password": "nIQ75VVtUTq8bO4",
        })

        # Handle response
        print(res)

    except errors.SDKBaseError as e:
        # The base class for HTTP error responses
        print(e.message)
        print(e.status_code)
        print(e.body)
        print(e.headers)
        print(e.raw_response)

        # Depending on the method different errors may be thrown
        if isinstance(e, errors.ErrorResponse):
            print(e.data.code)  # errors.Code
            print(e.data.details)  # Optional[Dict[str, Any]]
            print(e.data.message)  # str
"""

SERVER_INDEX_EXAMPLE = """\
from aerostack import SDK

with SDK(
    server_idx=0,
    api_key_auth="<YOUR_API_KEY_HERE>",
) as sdk:

    res = sdk.ai.ai_chat(request={
        "messages": [
            {},
        ],
        "model": "@cf/meta/llama-3-8b-instruct",
    })

    # Handle response
    print(res)
"""

SERVER_URL_EXAMPLE = """\
from aerostack import SDK

with SDK(
    server_url="http://localhost:8787/v1",
    api_key_auth="<YOUR_API_KEY_HERE>",
) as sdk:

    res = sdk.ai.ai_chat(request={
        "messages": [
            {},
        ],
        "model": "@cf/meta/llama-3-8b-instruct",
    })

    # Handle response
    print(res)
"""

CUSTOM_HEADER_CLIENT_EXAMPLE = """\
from aerostack import SDK
import httpx

http_client = httpx.Client(headers={"x-custom-header": "someValue"})
s = SDK(client=http_client)
"""

CUSTOM_ASYNC_CLIENT_EXAMPLE = """\
from aerostack import SDK
from aerostack.httpclient import AsyncHttpClient
import httpx

class CustomClient(AsyncHttpClient):
    client: AsyncHttpClient

    def __init__(self, client: AsyncHttpClient):
        self.client = client

    async def send(
        self,
        request: httpx.Request,
        *,
        stream: bool = False,
        auth: Union[
            httpx._types.AuthTypes, httpx._client.UseClientDefault, None
        ] = httpx.USE_CLIENT_DEFAULT,
        follow_redirects: Union[
            bool, httpx._client.UseClientDefault
        ] = httpx.USE_CLIENT_DEFAULT,
    ) -> httpx.Response:
        request.headers["Client-Level-Header"] = "added by client"

        return await self.client.send(
            request, stream=stream, auth=auth, follow_redirects=follow_redirects
        )

    def build_request(
        self,
        method: str,
        url: httpx._types.URLTypes,
        *,
        content: Optional[httpx._types.RequestContent] = None,
        data: Optional[httpx._types.RequestData] = None,
        files: Optional[httpx._types.RequestFiles] = None,
        json: Optional[Any] = None,
        params: Optional[httpx._types.QueryParamTypes] = None,
        headers: Optional[httpx._types.HeaderTypes] = None,
        cookies: Optional[httpx._types.CookieTypes] = None,
        timeout: Union[
            httpx._types.TimeoutTypes, httpx._client.UseClientDefault
        ] = httpx.USE_CLIENT_DEFAULT,
        extensions: Optional[httpx._types.RequestExtensions] = None,
    ) -> httpx.Request:
        return self.client.build_request(
            method,
            url,
            content=content,
            data=data,
            files=files,
            json=json,
            params=params,
            headers=headers,
            cookies=cookies,
            timeout=timeout,
            extensions=extensions,
        )

s = SDK(async_client=CustomClient(httpx.AsyncClient()))
"""

RESOURCE_MANAGEMENT_EXAMPLE = """\
from aerostack import SDK
def main():

    with SDK(
        api_key_auth="<YOUR_API_KEY_HERE>",
    ) as sdk:
        # Rest of application here...

# Or when using async:
async def amain():

    async with SDK(
        api_key_auth="<YOUR_API_KEY_HERE>",
    ) as sdk:
        # Rest of application here...
"""

DEBUGGING_EXAMPLE = """\
from aerostack import SDK
import logging

logging.basicConfig(level=logging.DEBUG)
s = SDK(debug_logger=logging.getLogger("aerostack"))
"""

# --- porting: the documented changes, nothing else -------------------------------------------

_KEY_ARG = 'api_key_auth="<YOUR_API_KEY_HERE>",'


def port(snippet: str, emulator_url: str, api_key: str) -> str:
    """Rename the imports and point the snippet's SDK at the emulator."""
    code = snippet.replace("from aerostack import", "from aerostack_async import")
    code = code.replace("from aerostack.", "from aerostack_async.")
    target = f"api_key_auth={api_key!r}, server_url={emulator_url!r},"
    if 'server_url="' in code:
        code = re.sub(r'server_url="[^"]*"', f"server_url={emulator_url!r}", code)
        target = f"api_key_auth={api_key!r},"
    if _KEY_ARG in code:
        return code.replace(_KEY_ARG, target)
    return code.replace("SDK(", f"SDK({target} ", 1)


class FileTracker:
    """``open`` for the snippets: records the files they open so the test can close them."""

    def __init__(self) -> None:
        self.files: list[IO[Any]] = []

    def __call__(self, *args: Any, **kwargs: Any) -> IO[Any]:
        file = builtins.open(*args, **kwargs)  # noqa: SIM115 (closed by close_all)
        self.files.append(file)
        return file

    def close_all(self) -> None:
        for file in self.files:
            file.close()


@pytest.fixture
def run(emulator: Emulator) -> Iterator[Any]:
    """Run a ported snippet as a script; returns its globals."""
    tracker = FileTracker()

    def run_snippet(snippet: str, *, url: str | None = None) -> dict[str, Any]:
        code = port(snippet, url or emulator.base_url, emulator.api_key)
        namespace: dict[str, Any] = {"__name__": "__readme__", "open": tracker}
        exec(compile(code, "<readme>", "exec"), namespace)
        return namespace

    yield run_snippet
    tracker.close_all()


# --- the tests -------------------------------------------------------------------------------


def test_port_changes_only_the_imports_and_the_server() -> None:
    ported = port(SYNC_EXAMPLE, "http://127.0.0.1:1/v1", "sk_test")
    assert (
        ported.replace("from aerostack_async import", "from aerostack import").replace(
            "api_key_auth='sk_test', server_url='http://127.0.0.1:1/v1',", _KEY_ARG
        )
        == SYNC_EXAMPLE
    )


def test_uv_script_example(run: Any) -> None:
    namespace = run(UV_SCRIPT)
    namespace["sdk"].close()


def test_sync_example(run: Any, capsys: pytest.CaptureFixture[str]) -> None:
    run(SYNC_EXAMPLE)
    assert "ChatCompletion(response=" in capsys.readouterr().out


def test_async_example_as_written_with_asyncio_run(
    run: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    run(ASYNC_EXAMPLE)
    assert "ChatCompletion(response=" in capsys.readouterr().out


@pytest.mark.parametrize("backend", ["asyncio", "trio"])
def test_async_example_main_on_each_backend(
    run: Any, capsys: pytest.CaptureFixture[str], backend: str
) -> None:
    without_asyncio_run = ASYNC_EXAMPLE.replace("asyncio.run(main())\n", "")
    namespace = run(without_asyncio_run)
    anyio.run(namespace["main"], backend=backend)
    assert "ChatCompletion(response=" in capsys.readouterr().out


def test_authentication_example(run: Any, capsys: pytest.CaptureFixture[str]) -> None:
    run(AUTHENTICATION_EXAMPLE)
    assert "ChatCompletion(response=" in capsys.readouterr().out


def test_file_upload_example(
    run: Any, capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "example.file").write_bytes(b"\xff\xd8\xff not really a jpeg")
    run(FILE_UPLOAD_EXAMPLE)
    assert "avatars/user-123.jpg" in capsys.readouterr().out


def test_per_call_retry_example_is_not_valid_python_as_printed() -> None:
    with pytest.raises(SyntaxError, match="positional argument follows keyword argument"):
        compile(PER_CALL_RETRY_EXAMPLE, "<readme>", "exec")


def test_per_call_retry_example_with_the_retries_keyword(
    run: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    fixed = PER_CALL_RETRY_EXAMPLE.replace(
        '        RetryConfig("backoff"', '        retries=RetryConfig("backoff"'
    )
    run(fixed)
    assert "ChatCompletion(response=" in capsys.readouterr().out


def test_global_retry_example(run: Any, capsys: pytest.CaptureFixture[str]) -> None:
    run(GLOBAL_RETRY_EXAMPLE)
    assert "ChatCompletion(response=" in capsys.readouterr().out


def test_error_handling_example(run: Any, capsys: pytest.CaptureFixture[str]) -> None:
    run(ERROR_HANDLING_EXAMPLE)
    lines = capsys.readouterr().out.splitlines()
    assert "401" in lines
    assert "AUTH_INVALID_CREDENTIALS" in lines


def test_server_index_example(run: Any, capsys: pytest.CaptureFixture[str]) -> None:
    run(SERVER_INDEX_EXAMPLE)
    assert "ChatCompletion(response=" in capsys.readouterr().out


def test_server_url_example(run: Any, capsys: pytest.CaptureFixture[str]) -> None:
    run(SERVER_URL_EXAMPLE)
    assert "ChatCompletion(response=" in capsys.readouterr().out


def test_custom_header_client_example_sends_the_header(
    run: Any, recording_server: RecordingServer
) -> None:
    namespace = run(CUSTOM_HEADER_CLIENT_EXAMPLE, url=recording_server.base_url)
    sdk = namespace["s"]
    try:
        sdk.cache.cache_get(request={"key": "k"})
    finally:
        sdk.close()
        namespace["http_client"].close()
    assert recording_server.headers[-1]["x-custom-header"] == "someValue"


def test_custom_async_client_example_sends_the_header(
    run: Any, recording_server: RecordingServer
) -> None:
    typing_imports = "from typing import Any, Optional, Union\n"
    namespace = run(typing_imports + CUSTOM_ASYNC_CLIENT_EXAMPLE, url=recording_server.base_url)
    sdk = namespace["s"]

    async def call_and_close() -> None:
        try:
            async with sdk:
                await sdk.cache.cache_get_async(request={"key": "k"})
        finally:
            await sdk.aclose()

    asyncio.run(call_and_close())
    assert recording_server.headers[-1]["client-level-header"] == "added by client"


def test_resource_management_example(run: Any) -> None:
    fixed = RESOURCE_MANAGEMENT_EXAMPLE.replace(
        "# Rest of application here...", "pass  # Rest of application here..."
    )
    namespace = run(fixed)
    namespace["main"]()
    asyncio.run(namespace["amain"]())


def test_debugging_example_logs_requests(
    run: Any, restore_package_logging: None, caplog: pytest.LogCaptureFixture
) -> None:
    namespace = run(DEBUGGING_EXAMPLE)
    sdk = namespace["s"]
    try:
        with caplog.at_level("DEBUG", logger="aerostack"):
            sdk.cache.cache_get(request={"key": "k"})
    finally:
        sdk.close()
    assert any(
        r.name == "aerostack" and "/cache/get -> 200" in r.getMessage() for r in caplog.records
    )
