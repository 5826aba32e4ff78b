"""The sync facade explains itself at run time: dir(), completion, signatures, help().

The blocking surface is derived from the async one (``_sync_surface``); these tests hold it to
the async objects it wraps, to the generated stub type checkers read, and to what IPython's
completer and ``pydoc`` actually show.
"""

from __future__ import annotations

import ast
import inspect
import pydoc
import typing
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import aerostack_async
from aerostack_async import AsyncAerostack, errors
from aerostack_async import _sync_surface as surface
from aerostack_async._sync import Aerostack, SyncClientClosedError, SyncProxy
from aerostack_async.compat import SDK
from aerostack_async.testing import Emulator

from ._adapter import loop_threads

FAKE_KEY = "sk_test_" + "a" * 32


def public(names: list[str]) -> set[str]:
    return {name for name in names if not name.startswith("_")}


def sync_spelling(obj: object) -> set[str]:
    """The public names of an async object, spelt as the facade spells them."""
    cls = type(obj)
    return {surface.sync_name(name, cls) for name in public(dir(obj))}


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


@pytest.fixture(scope="module", params=["asyncio", "trio"])
def client(request: pytest.FixtureRequest, emulator: Emulator) -> Iterator[Aerostack]:
    with Aerostack(
        api_key=emulator.api_key, base_url=emulator.base_url, backend=request.param
    ) as sync_client:
        yield sync_client


@pytest.fixture
def fresh() -> Iterator[Aerostack]:
    """A client nobody has used: its loop thread has not started."""
    before = loop_threads()
    unused = Aerostack(api_key=FAKE_KEY, base_url="http://127.0.0.1:9/v1")
    yield unused
    assert loop_threads() == before, "introspection started the loop thread"
    unused.close()


def twin(obj: SyncProxy | Aerostack) -> Any:
    """The async object a sync one wraps."""
    if isinstance(obj, Aerostack):
        return obj._sync_root_proxy()._sync_target
    return obj._sync_target


# --- the same names ------------------------------------------------------------------------


@pytest.mark.anyio
async def test_dir_of_a_fresh_client_is_the_async_clients(
    fresh: Aerostack, emulator: Emulator
) -> None:
    async with AsyncAerostack(api_key=emulator.api_key, base_url=emulator.base_url) as core:
        assert public(dir(fresh)) == sync_spelling(core)
    assert "close" in dir(fresh)
    assert "aclose" not in dir(fresh)


def test_resources_have_the_async_resources_names(client: Aerostack) -> None:
    core = twin(client)
    resources = [
        name
        for name in public(dir(core))
        # (with_raw_response holds resources, not methods: test_observability covers it)
        if surface.is_service_class(type(getattr(core, name))) and name != "with_raw_response"
    ]
    assert sorted(resources) == [
        "ai", "authentication", "cache", "database", "queue", "search", "services", "storage",
    ]  # fmt: skip
    for name in resources:
        sync_resource = getattr(client, name)
        async_resource = getattr(core, name)
        assert public(dir(sync_resource)) == sync_spelling(async_resource), name
        for method in public(dir(sync_resource)):
            # Declared on the class, so help() and completion see it without an instance.
            declared = inspect.getattr_static(type(sync_resource), method)
            assert inspect.isfunction(declared), (name, method)


def test_streams_have_the_async_streams_names(client: Aerostack) -> None:
    key = unique("intro")
    client.storage.upload(key, b"x" * 10)
    client.cache.set_many({f"{key}:{i}": i for i in range(3)})
    seen: list[object] = []

    def check(sync_obj: Any) -> None:
        assert isinstance(sync_obj, SyncProxy)
        assert public(dir(sync_obj)) == sync_spelling(twin(sync_obj))
        assert type(sync_obj).__name__ == "Sync" + type(twin(sync_obj)).__name__
        seen.append(type(twin(sync_obj)).__name__)

    manager = client.ai.chat_stream("hello")
    check(manager)
    with manager as stream:
        check(stream)
        assert "close" in dir(stream)
        assert "aclose" not in dir(stream)
        check(stream.text_stream)
        assert stream.get_final_text()
    download_manager = client.storage.download(key)
    check(download_manager)
    with download_manager as download:
        check(download)
        assert {"close", "read", "save", "size"} <= set(dir(download))
        assert download.read() == b"x" * 10
    pages = client.cache.list(f"{key}:")
    check(pages)
    assert len(list(pages)) == 3
    with client.cache.get_many_stream([f"{key}:0", f"{key}:1"]) as entries:
        check(entries)
        assert [entry.value for entry in entries] == [0, 1]
    assert seen == [
        "ChatStreamManager", "ChatStream", "_TextStream", "DownloadManager", "Download",
        "Pages", "ResultStream",
    ]  # fmt: skip


def test_a_name_the_async_object_lacks_is_an_attribute_error(client: Aerostack) -> None:
    with pytest.raises(AttributeError):
        client.cache.gett  # noqa: B018


# --- completion ----------------------------------------------------------------------------


@pytest.fixture
def shell(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """An IPython shell, as a notebook kernel has, with no history file."""
    pytest.importorskip("IPython")
    from IPython.core.interactiveshell import InteractiveShell
    from traitlets.config import Config

    monkeypatch.setenv("IPYTHONDIR", str(tmp_path))
    config = Config()
    config.HistoryManager.enabled = False
    yield InteractiveShell.instance(config=config)
    InteractiveShell.clear_instance()


def complete(shell: Any, text: str) -> set[str]:
    """What pressing Tab after ``text`` offers, as whole expressions."""
    from IPython.core.completer import provisionalcompleter

    with provisionalcompleter():
        found = shell.Completer.completions(text, len(text))
        return {text[: c.start] + c.text for c in found}


def test_ipython_completes_a_resource_and_its_methods(shell: Any, fresh: Aerostack) -> None:
    shell.user_ns["client"] = fresh
    assert "client.cache" in complete(shell, "client.ca")
    methods = {f"client.cache.{name}" for name in public(dir(surface.SyncCache))}
    assert {"client.cache.get", "client.cache.set", "client.cache.list"} <= methods
    assert complete(shell, "client.cache.") >= methods
    assert complete(shell, "client.ai.ch") >= {"client.ai.chat", "client.ai.chat_stream"}


def test_ipython_completes_what_a_method_returns(shell: Any, fresh: Aerostack) -> None:
    # From the return annotation (CacheGetResult): nothing is called.
    shell.user_ns["client"] = fresh
    assert {"x.exists", "x.value"} <= {
        "x." + c.rsplit(".", 1)[1] for c in complete(shell, "client.cache.get('k').")
    }


def test_ipython_completes_without_jedi_too(shell: Any, fresh: Aerostack) -> None:
    shell.user_ns["client"] = fresh
    shell.Completer.use_jedi = False
    assert "client.cache" in complete(shell, "client.ca")


# --- signatures against the stub -----------------------------------------------------------


def stub_path() -> Path:
    found = list(Path(aerostack_async.__file__).parent.rglob("_sync_types.pyi"))
    assert len(found) == 1, found
    return found[0]


class Normalise(ast.NodeTransformer):
    """One spelling for a name in the stub and at run time: the class's own name.

    The stub imports under aliases (``ProgressCallback_2``, ``builtins.list``) and calls the
    root ``SyncAerostack``; the run time shows ``httpx.AsyncClient`` and ``Aerostack``.
    """

    def __init__(self, aliases: dict[str, str]) -> None:
        self.aliases = aliases

    def visit_Name(self, node: ast.Name) -> ast.expr:
        name = self.aliases.get(node.id, node.id)
        return ast.Name("Aerostack" if name == "SyncAerostack" else name, ast.Load())

    def visit_Attribute(self, node: ast.Attribute) -> ast.expr:
        return self.visit_Name(ast.Name(node.attr, ast.Load()))

    def visit_Constant(self, node: ast.Constant) -> ast.expr:
        return ast.Constant(node.value)  # same quotes either way once unparsed


def normalised(text: str, aliases: dict[str, str]) -> str:
    return ast.unparse(Normalise(aliases).visit(ast.parse(text, mode="eval")))


def stub_classes() -> tuple[dict[str, dict[str, list[ast.FunctionDef]]], dict[str, str]]:
    tree = ast.parse(stub_path().read_text())
    aliases = {
        alias.asname: alias.name
        for node in tree.body
        if isinstance(node, ast.ImportFrom)
        for alias in node.names
        if alias.asname
    }
    classes: dict[str, dict[str, list[ast.FunctionDef]]] = {}
    for node in tree.body:
        if isinstance(node, ast.ClassDef):
            methods = classes.setdefault(node.name, {})
            for item in node.body:
                if isinstance(item, ast.FunctionDef):
                    methods.setdefault(item.name, []).append(item)
                elif isinstance(item, ast.AnnAssign) and isinstance(item.target, ast.Name):
                    methods.setdefault(item.target.id, [])
    return classes, aliases


def runtime_class(stub_name: str) -> type:
    if stub_name == "SyncAerostack":
        return Aerostack
    found = getattr(surface, stub_name, None)
    assert isinstance(found, type), f"the facade never builds {stub_name}"
    return found


def parameters_of(
    node: ast.FunctionDef, aliases: dict[str, str]
) -> list[tuple[str, str, str, bool]]:
    """(kind, name, annotation, has default) per parameter of a stub function."""
    args = node.args
    out: list[tuple[str, str, str, bool]] = []
    positional = args.posonlyargs + args.args
    defaults = [False] * (len(positional) - len(args.defaults)) + [True] * len(args.defaults)
    kinds = ["POSITIONAL_ONLY"] * len(args.posonlyargs) + ["POSITIONAL_OR_KEYWORD"] * len(args.args)
    rows = list(zip(kinds, positional, defaults, strict=True))
    if args.vararg:
        rows.append(("VAR_POSITIONAL", args.vararg, False))
    rows += [
        ("KEYWORD_ONLY", arg, default is not None)
        for arg, default in zip(args.kwonlyargs, args.kw_defaults, strict=True)
    ]
    if args.kwarg:
        rows.append(("VAR_KEYWORD", args.kwarg, False))
    for kind, arg, has_default in rows:
        annotation = normalised(ast.unparse(arg.annotation), aliases) if arg.annotation else ""
        out.append((kind, arg.arg, annotation, has_default))
    return out


def runtime_parameters(
    signature: inspect.Signature, aliases: dict[str, str]
) -> list[tuple[str, str, str, bool]]:
    return [
        (
            p.kind.name,
            p.name,
            "" if p.annotation is p.empty else normalised(str(p.annotation), aliases),
            p.default is not p.empty,
        )
        for p in signature.parameters.values()
    ]


STUB_CLASSES, STUB_ALIASES = stub_classes()
surface.complete()  # every proxy class the facade can hand out, built now (else on first use)


@pytest.mark.parametrize("stub_name", sorted(STUB_CLASSES))
def test_every_stub_class_exists_at_run_time_with_its_public_names(stub_name: str) -> None:
    cls = runtime_class(stub_name)
    names = public(list(STUB_CLASSES[stub_name]))
    assert names <= public(dir(cls))


def derived_methods() -> list[tuple[str, str]]:
    """Every public method of the stub that the run time derives (not the proxy's own ones,
    an iterator's ``close`` and ``take_buffered``, which are plain methods of the base)."""
    return [
        (cls, name)
        for cls, members in sorted(STUB_CLASSES.items())
        for name, nodes in sorted(members.items())
        if nodes
        and not name.startswith("_")
        and not any(isinstance(d, ast.Name) and d.id == "property" for d in nodes[0].decorator_list)
        and getattr(inspect.getattr_static(runtime_class(cls), name), "__module__", None)
        == surface.__name__
    ]


def test_nearly_every_stub_method_is_derived() -> None:
    assert len(derived_methods()) >= 50


@pytest.mark.parametrize(("stub_name", "method"), derived_methods())
def test_signature_matches_the_stub(stub_name: str, method: str) -> None:
    cls = runtime_class(stub_name)
    declared = inspect.getattr_static(cls, method)
    nodes = STUB_CLASSES[stub_name][method]
    signature = inspect.signature(declared)
    got = runtime_parameters(signature, STUB_ALIASES)
    if len(nodes) == 1:
        assert got == parameters_of(nodes[0], STUB_ALIASES)
        assert nodes[0].returns is not None
        expected = normalised(ast.unparse(nodes[0].returns), STUB_ALIASES)
        assert normalised(str(signature.return_annotation), STUB_ALIASES) == expected
    else:
        # Overloads: the run-time signature is the implementation's; names and kinds agree.
        for node in nodes:
            assert [row[:2] for row in got] == [
                row[:2] for row in parameters_of(node, STUB_ALIASES)
            ]


def test_the_root_signature_matches_the_stub() -> None:
    (init,) = STUB_CLASSES["SyncAerostack"]["__init__"]
    signature = inspect.signature(Aerostack.__init__)
    assert runtime_parameters(signature, STUB_ALIASES) == parameters_of(init, STUB_ALIASES)
    # And constructing with a misspelt argument is still refused at once.
    with pytest.raises(TypeError):
        Aerostack(api_kye=FAKE_KEY)  # type: ignore[call-arg]


def test_bound_methods_show_the_sync_signature(fresh: Aerostack) -> None:
    assert str(inspect.signature(fresh.with_options)).endswith("-> Aerostack")
    assert "self" not in inspect.signature(fresh.with_options).parameters
    assert str(inspect.signature(type(fresh).cache.fget)) == "(self) -> SyncCache"  # type: ignore[attr-defined]


def test_annotations_resolve_to_the_real_classes() -> None:
    from aerostack_async.models.cache import CacheGetResult, CacheKeyInfo

    hints = typing.get_type_hints(surface.SyncCache.get)
    assert hints["return"] is CacheGetResult
    assert hints["key"] is str
    assert (
        typing.get_type_hints(surface.SyncCache.list)["return"] == surface.SyncPages[CacheKeyInfo]
    )
    assert typing.get_type_hints(Aerostack.cache.fget)["return"] is surface.SyncCache  # type: ignore[attr-defined]


def test_docstrings_are_the_async_ones_made_sync() -> None:
    from aerostack_async.resources.ai import AI
    from aerostack_async.resources.cache import Cache

    assert surface.SyncCache.get.__doc__ == inspect.getdoc(Cache.get)
    doc = surface.SyncAI.chat_stream.__doc__
    assert doc is not None
    assert "async with" not in doc
    assert "async for" not in doc
    assert "with client.ai.chat_stream(" in doc
    assert "for text in stream.text_stream:" in doc
    assert inspect.getdoc(AI.chat_stream) != doc  # it did say ``async with``
    assert "close" in (Aerostack.is_closed.__doc__ or "")
    assert "aclose" not in (Aerostack.is_closed.__doc__ or "")


# --- help() --------------------------------------------------------------------------------


def test_help_on_the_client_class_lists_resources_and_methods() -> None:
    text = pydoc.render_doc(Aerostack, renderer=pydoc.plaintext)
    assert "Aerostack(*, api_key: KeySource | None = None" in text
    assert "backend: Literal['asyncio', 'trio'] = 'asyncio'" in text
    for resource in ("ai", "authentication", "cache", "database", "queue", "storage"):
        assert f"\n |  {resource}\n |      " in text, resource
    assert " |  with_options(self, *, api_key: KeySource | None = None" in text
    assert ") -> Aerostack\n |      A copy with some settings changed" in text


def test_help_on_a_method_shows_the_operation() -> None:
    text = pydoc.render_doc(surface.SyncCache.get, renderer=pydoc.plaintext)
    assert "get(self, key: str, **options: Unpack[CallOptions]) -> CacheGetResult" in text
    assert "The value under ``key``" in text


def test_help_on_a_resource_shows_its_class(client: Aerostack) -> None:
    text = pydoc.render_doc(client.cache, renderer=pydoc.plaintext)
    assert "class SyncCache(" in text
    assert "The blocking mirror of `aerostack_async.resources.cache.Cache`." in text
    assert "get(self, key: str, **options: Unpack[CallOptions]) -> CacheGetResult" in text
    method = pydoc.render_doc(client.cache.get, renderer=pydoc.plaintext)
    assert "get(key: str, **options: Unpack[CallOptions]) -> CacheGetResult" in method


# --- with_options --------------------------------------------------------------------------


def test_with_options_gives_an_aerostack_sharing_the_loop(client: Aerostack) -> None:
    copy = client.with_options(retry=None, default_headers={"X-Test": "1"})
    assert isinstance(copy, Aerostack)
    assert public(dir(copy)) == public(dir(client))
    assert repr(copy).startswith("<Aerostack copy over AsyncAerostack(")
    key = unique("copy")
    assert copy.cache.set(key, 1).success
    assert client.cache.get(key).value == 1
    with copy as entered:
        assert entered is copy
    assert not client.is_closed
    assert client.cache.get(key).value == 1  # closing the copy left the client open
    assert copy.with_options(timeout=3).cache.get(key).value == 1


def test_a_copy_is_closed_with_its_client(emulator: Emulator) -> None:
    with Aerostack(api_key=emulator.api_key, base_url=emulator.base_url) as parent:
        copy = parent.with_options(retry=None)
        copy.cache.get(unique("k"))
    assert repr(copy) == "<Aerostack copy, closed>"
    with pytest.raises(SyncClientClosedError):
        copy.cache.get("k")


def test_errors_through_a_declared_method_are_the_core_ones(client: Aerostack) -> None:
    with pytest.raises(errors.InvalidRequestError):
        client.cache.get("")


# --- SDK -----------------------------------------------------------------------------------


def sdk_operations() -> list[tuple[str, str]]:
    resources = [name for name in typing.get_type_hints(SDK) if not name.startswith("_")]
    return [
        (resource, name)
        for resource in sorted(resources)
        for name in sorted(vars(typing.get_type_hints(SDK)[resource]))
        if not name.startswith("_") and not name.endswith("_async")
    ]


@pytest.mark.parametrize(("resource", "operation"), sdk_operations())
def test_sdk_operations_show_the_sync_signature_of_their_async_twin(
    resource: str, operation: str
) -> None:
    sdk = SDK(api_key_auth=FAKE_KEY, server_idx=1)
    try:
        blocking = getattr(getattr(sdk, resource), operation)
        asynchronous = getattr(getattr(sdk, resource), f"{operation}_async")
        assert inspect.signature(blocking) == inspect.signature(asynchronous)
        text = str(inspect.signature(blocking))
        assert text.startswith("(*, request: object, **options: Unpack[SeedCallOptions]) -> ")
        assert "'" not in text  # shown as written, not as quoted strings
        returns = typing.get_type_hints(blocking)["return"]
        assert isinstance(returns, type) or typing.get_origin(returns) is not None
        assert blocking.__doc__ == asynchronous.__doc__
        assert "(*, request: object" in pydoc.render_doc(blocking, renderer=pydoc.plaintext)
    finally:
        sdk.close()
