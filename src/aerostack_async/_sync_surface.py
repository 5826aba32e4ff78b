"""The sync facade as people inspect it at run time: names, signatures, docstrings, classes.

``_sync.py`` reaches the async client through generic proxies, so nothing about the blocking
surface is written down twice. This module lets the proxies explain themselves all the same:
for each async class the facade wraps it builds a proxy class (``SyncCache`` for ``Cache``,
``SyncPages`` for ``Pages``…) whose public members are real functions and properties carrying
the sync signature and docstring of their async originals. ``dir()``, tab completion,
``inspect.signature``, ``help()`` and Jupyter's inspector then read them from the class, with
no call made and no loop thread started.

What changes from the async original, as in the generated stub (``_sync_types.pyi``):

- a coroutine function becomes a plain one returning what it awaited;
- ``AsyncIterator[X]`` becomes ``Iterator[X]``, an async context manager a sync one;
- an async class in a return type becomes its proxy class (``AsyncAerostack``: ``Aerostack``);
- ``aclose`` is spelt ``close``;
- in docstrings, ``async with``/``async for``/``await`` lose their ``async``/``await``.

Annotations are shown as written (``key: str -> CacheGetResult``), and also evaluated where
their names resolve, so that ``typing.get_type_hints`` and editors that infer from annotations
(Jedi, behind IPython's completion) see the real classes.
"""

from __future__ import annotations

import ast
import builtins
import enum
import functools
import importlib
import importlib.util
import inspect
import re
import sys
import textwrap
import threading
import types
from collections.abc import Callable, Iterable
from typing import Any, Final, Literal, NamedTuple

import msgspec

__all__ = [
    "AnnotationText",
    "Member",
    "async_features",
    "bind",
    "describe_twins",
    "install_root",
    "is_service_class",
    "members",
    "proxy_class",
    "register",
    "sync_class",
    "sync_dir",
    "sync_doc",
    "sync_name",
    "sync_signature",
]

# Public async names and their sync spellings (dunders are the proxy base classes' business).
_RENAMES: Final = {"aclose": "close"}

# Generic async types (by qualified name) and the sync type replacing them: (module, name).
_SYNC_GENERICS: Final[dict[str, tuple[str, str]]] = {
    "collections.abc.AsyncIterator": ("collections.abc", "Iterator"),
    "collections.abc.AsyncIterable": ("collections.abc", "Iterable"),
    "collections.abc.AsyncGenerator": ("collections.abc", "Iterator"),
    "typing.AsyncIterator": ("collections.abc", "Iterator"),
    "typing.AsyncIterable": ("collections.abc", "Iterable"),
    "typing.AsyncGenerator": ("collections.abc", "Iterator"),
    "contextlib.AbstractAsyncContextManager": ("contextlib", "AbstractContextManager"),
    "typing.AsyncContextManager": ("contextlib", "AbstractContextManager"),
}
_ASYNC_GENERATORS: Final = {"collections.abc.AsyncGenerator", "typing.AsyncGenerator"}
_LITERALS: Final = {"typing.Literal", "typing_extensions.Literal"}
# Awaitables whose result type (the last argument) is what a blocking call returns.
_AWAITABLES: Final = {
    "collections.abc.Awaitable",
    "collections.abc.Coroutine",
    "typing.Awaitable",
    "typing.Coroutine",
}


# --- which classes the facade wraps ----------------------------------------------------------

_FEATURES: Final[dict[type, tuple[bool, bool, bool, bool]]] = {}


def async_features(cls: type) -> tuple[bool, bool, bool, bool]:
    """(async context manager, async iterable, async iterator, has coroutine methods)."""
    known = _FEATURES.get(cls)
    if known is None:
        known = _FEATURES[cls] = _inspect_features(cls)
    return known


def _inspect_features(cls: type) -> tuple[bool, bool, bool, bool]:
    is_acm = hasattr(cls, "__aenter__") and hasattr(cls, "__aexit__")
    is_aiterable = hasattr(cls, "__aiter__")
    is_aiterator = is_aiterable and hasattr(cls, "__anext__")
    has_async = False
    for name in dir(cls):
        if name.startswith("__"):
            continue
        attr = inspect.getattr_static(cls, name, None)
        if isinstance(attr, (staticmethod, classmethod)):
            attr = attr.__func__
        if inspect.iscoroutinefunction(attr) or inspect.isasyncgenfunction(attr):
            has_async = True
            break
    return is_acm, is_aiterable, is_aiterator, has_async


def is_service_class(cls: type) -> bool:
    """Whether an attribute of this class is a sub-object to proxy (a resource, say).

    Data (msgspec Structs, enums, exceptions, builtins) is returned as it is; any other class
    with public methods is a service whose methods may return async things.
    """
    if cls.__module__ == "builtins" or issubclass(cls, (msgspec.Struct, enum.Enum, BaseException)):
        return False
    return _is_namespace(cls) or any(
        not name.startswith("_") and inspect.isfunction(attr)
        for klass in cls.__mro__[:-1]
        for name, attr in vars(klass).items()
    )


def _is_namespace(cls: type) -> bool:
    """A class marked ``_sync_service``: it holds services (``with_raw_response`` holds raw
    resources) without methods of its own, and is proxied like a resource wherever it is met."""
    return bool(getattr(cls, "_sync_service", False))


def _is_wrapped(cls: type, *, attribute: bool) -> bool:
    """Whether the facade hands out a proxy for instances of ``cls`` (see ``_sync._wrap``)."""
    if cls.__module__ == "builtins" or issubclass(cls, type):
        return False
    if _is_namespace(cls):
        return True
    return any(async_features(cls)) or (attribute and is_service_class(cls))


# --- names -----------------------------------------------------------------------------------


def sync_name(name: str, cls: type) -> str:
    """How the facade spells the public name ``name`` of async class ``cls``."""
    renamed = _RENAMES.get(name)
    if renamed is None or hasattr(cls, renamed):
        return name
    return renamed


def sync_dir(target: object, own: Iterable[str]) -> list[str]:
    """``dir()`` of a proxy: its own private names, and ``target``'s public ones, made sync."""
    cls = type(target)
    names = {name for name in own if name.startswith("_")}
    names.update(sync_name(name, cls) for name in dir(target) if not name.startswith("_"))
    return sorted(names)


class Member(NamedTuple):
    """One public member of an async class, as the facade shows it."""

    name: str
    """The sync spelling."""
    async_name: str
    kind: Literal["method", "property", "attribute"]
    """A method (called through the loop), a property (read on the loop) or plain data."""
    owner: type
    """The async class."""


_MEMBERS: Final[dict[type, tuple[Member, ...]]] = {}


def members(cls: type) -> tuple[Member, ...]:
    """The public members of async class ``cls``: methods, properties, attributes.

    Attributes include those only annotated on the class (``cache: Cache``) and slots, which an
    instance has although ``dir()`` of the class may not list them.
    """
    known = _MEMBERS.get(cls)
    if known is not None:
        return known
    found: dict[str, Member] = {}
    for name in dir(cls):
        if name.startswith("_"):
            continue
        static = inspect.getattr_static(cls, name)
        kind: Literal["method", "property", "attribute"]
        if isinstance(static, (property, functools.cached_property)):
            kind = "property"
        elif isinstance(static, (staticmethod, classmethod)) or inspect.isfunction(static):
            kind = "method"
        else:
            kind = "attribute"
        found[name] = Member(sync_name(name, cls), name, kind, cls)
    for klass in reversed(cls.__mro__[:-1]):
        for name in vars(klass).get("__annotations__", {}):
            if not name.startswith("_") and name not in found:
                found[name] = Member(name, name, "attribute", cls)
    known = _MEMBERS[cls] = tuple(sorted(found.values()))
    return known


# --- annotations -----------------------------------------------------------------------------


class AnnotationText(str):
    """An annotation's source text, shown as written (``inspect`` shows a plain str quoted)."""

    __slots__ = ()

    def __repr__(self) -> str:
        return str.__str__(self)


class _Names:
    """What the names in one module's annotations refer to, TYPE_CHECKING imports included."""

    def __init__(self, module_name: str) -> None:
        module = sys.modules.get(module_name)
        self._module = module
        self._globals: dict[str, Any] = vars(module) if module is not None else {}
        self._imports: dict[str, tuple[str, str | None]] | None = None

    def resolve(self, dotted: list[str]) -> object:
        """The object ``a.b.c`` refers to; LookupError if it cannot be found."""
        head, *rest = dotted
        if head in self._globals:
            obj = self._globals[head]
        elif hasattr(builtins, head):
            obj = getattr(builtins, head)
        elif rest and head in sys.modules:
            obj = sys.modules[head]  # ``httpx.AsyncClient`` after ``import httpx`` for typing
        else:
            obj = self._imported(head)
        for part in rest:
            try:
                obj = getattr(obj, part)
            except AttributeError:
                if not isinstance(obj, types.ModuleType):
                    raise LookupError(".".join(dotted)) from None
                obj = _import(f"{obj.__name__}.{part}")
        return obj

    def _imported(self, name: str) -> object:
        # A name imported under ``if TYPE_CHECKING:`` only: read the module's imports.
        if self._imports is None:
            self._imports = _imports_of(self._module)
        origin = self._imports.get(name)
        if origin is None:
            raise LookupError(name)
        module, attr = origin
        if attr is None:
            return _import(module)
        try:
            return getattr(_import(module), attr)
        except AttributeError:
            return _import(f"{module}.{attr}")


def _import(name: str) -> types.ModuleType:
    try:
        return importlib.import_module(name)
    except Exception as exc:  # an optional dependency, say: the name stays unresolved
        raise LookupError(name) from exc


# A module-level ``if TYPE_CHECKING:`` block (the only imports the module's globals lack).
_TYPE_CHECKING_BLOCK: Final = re.compile(
    r"^if (?:typing\.)?TYPE_CHECKING:\n((?:[ \t]+.*\n|\n)+)", re.MULTILINE
)


def _imports_of(module: types.ModuleType | None) -> dict[str, tuple[str, str | None]]:
    """The imports under ``if TYPE_CHECKING:`` in ``module``: name -> (module, attribute)."""
    out: dict[str, tuple[str, str | None]] = {}
    if module is None:
        return out
    try:
        source = inspect.getsource(module)
        blocks = [textwrap.dedent(m.group(1)) for m in _TYPE_CHECKING_BLOCK.finditer(source)]
        nodes = [node for block in blocks for node in ast.parse(block).body]
    except (OSError, TypeError, SyntaxError):
        return out
    package = module.__package__ or ""
    for node in nodes:
        if isinstance(node, ast.ImportFrom):
            base = "." * node.level + (node.module or "")
            try:
                absolute = importlib.util.resolve_name(base, package) if node.level else base
            except ImportError:
                continue
            for alias in node.names:
                out[alias.asname or alias.name] = (absolute, alias.name)
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.asname:
                    out[alias.asname] = (alias.name, None)
                else:
                    top = alias.name.split(".")[0]
                    out[top] = (top, None)
    return out


_NAMES: Final[dict[str, _Names]] = {}


def _names(module_name: str) -> _Names:
    names = _NAMES.get(module_name)
    if names is None:
        names = _NAMES[module_name] = _Names(module_name)
    return names


def _qualname(obj: object) -> str:
    module = getattr(obj, "__module__", None)
    name = getattr(obj, "__qualname__", None) or getattr(obj, "_name", None)
    return f"{module}.{name}"


def _dotted(node: ast.expr) -> list[str] | None:
    if isinstance(node, ast.Name):
        return [node.id]
    if isinstance(node, ast.Attribute):
        base = _dotted(node.value)
        return None if base is None else [*base, node.attr]
    return None


class _Converter:
    """Rewrites one annotation twice: text to show, and an expression to evaluate.

    ``mirror`` (for return types) makes async types sync; parameters keep their types, since
    arguments are handed to the async method unchanged. ``attribute`` marks an attribute's
    type, where (as in the proxy) any service class is mirrored, not only async ones.
    """

    def __init__(self, names: _Names, *, mirror: bool, attribute: bool) -> None:
        self.names = names
        self.mirror = mirror
        self.attribute = attribute
        self.namespace: dict[str, object] = {}
        self.resolved = True

    def _placeholder(self, obj: object) -> ast.Name:
        name = f"_{len(self.namespace)}"
        self.namespace[name] = obj
        return ast.Name(name, ast.Load())

    def _resolve(self, node: ast.expr) -> object:
        dotted = _dotted(node)
        if dotted is None:
            raise LookupError(ast.unparse(node))
        return self.names.resolve(dotted)

    def convert(self, node: ast.expr) -> tuple[ast.expr, ast.expr]:
        if isinstance(node, ast.Constant):
            if isinstance(node.value, str):
                # A quoted forward reference inside an annotation: its contents count.
                return self.convert(ast.parse(node.value, mode="eval").body)
            return node, node
        if isinstance(node, (ast.Name, ast.Attribute)):
            return self._convert_name(node)
        if isinstance(node, ast.Subscript):
            return self._convert_subscript(node)
        if isinstance(node, (ast.Tuple, ast.List)):
            pairs = [self.convert(elt) for elt in node.elts]
            kind = type(node)
            return (
                kind([p[0] for p in pairs], ast.Load()),
                kind([p[1] for p in pairs], ast.Load()),
            )
        if isinstance(node, ast.BinOp):
            left, right = self.convert(node.left), self.convert(node.right)
            return ast.BinOp(left[0], node.op, right[0]), ast.BinOp(left[1], node.op, right[1])
        self.resolved = False
        return node, node

    def _convert_name(self, node: ast.Name | ast.Attribute) -> tuple[ast.expr, ast.expr]:
        if isinstance(node, ast.Name) and node.id == "None":
            return node, node
        try:
            obj = self._resolve(node)
        except LookupError:
            self.resolved = False
            return node, node
        if self.mirror:
            generic = _SYNC_GENERICS.get(_qualname(obj))
            if generic is not None:
                module, attr = generic
                return ast.Name(attr, ast.Load()), self._placeholder(
                    getattr(importlib.import_module(module), attr)
                )
            if isinstance(obj, type):
                sync = sync_class(obj, attribute=self.attribute)
                if sync is not None:
                    return ast.Name(sync.__name__, ast.Load()), self._placeholder(sync)
        return node, self._placeholder(obj)

    def _convert_subscript(self, node: ast.Subscript) -> tuple[ast.expr, ast.expr]:
        try:
            qualname = _qualname(self._resolve(node.value))
        except LookupError:
            qualname = ""
        if qualname in _LITERALS:
            # ``Literal["asyncio", "trio"]``: its strings are values, not forward references.
            value, value_eval = self.convert(node.value)
            return ast.Subscript(value, node.slice, ast.Load()), ast.Subscript(
                value_eval, node.slice, ast.Load()
            )
        if self.mirror:
            args = node.slice.elts if isinstance(node.slice, ast.Tuple) else [node.slice]
            if qualname in _AWAITABLES:
                return self.convert(args[-1])
            if qualname in _ASYNC_GENERATORS:
                node = ast.Subscript(node.value, args[0], ast.Load())
        value, value_eval = self.convert(node.value)
        index, index_eval = self.convert(node.slice)
        return ast.Subscript(value, index, ast.Load()), ast.Subscript(
            value_eval, index_eval, ast.Load()
        )


_ANNOTATIONS: Final[dict[tuple[str, str, bool, bool], tuple[AnnotationText, object]]] = {}


def _annotation(
    annotation: object, module: str, *, mirror: bool, attribute: bool = False
) -> tuple[AnnotationText, object]:
    """(text to show, object to evaluate to) for one annotation of a member of ``module``."""
    if not isinstance(annotation, str):
        # Evaluated already (a module without ``from __future__ import annotations``).
        annotation = inspect.formatannotation(annotation)
    key = (annotation, module, mirror, attribute)
    known = _ANNOTATIONS.get(key)
    if known is None:
        known = _ANNOTATIONS[key] = _convert_annotation(annotation, module, mirror, attribute)
    return known


def _convert_annotation(
    annotation: str, module: str, mirror: bool, attribute: bool
) -> tuple[AnnotationText, object]:
    try:
        tree = ast.parse(annotation, mode="eval").body
    except SyntaxError:
        return AnnotationText(annotation), AnnotationText(annotation)
    converter = _Converter(_names(module), mirror=mirror, attribute=attribute)
    shown, evaluable = converter.convert(tree)
    text = AnnotationText(ast.unparse(shown))
    if not converter.resolved:
        return text, text
    try:
        value = _evaluate(evaluable, converter.namespace)
    except Exception:  # e.g. subscripting a class that is not generic at run time
        return text, text
    return text, value


def _evaluate(node: ast.expr, namespace: dict[str, object]) -> Any:
    """The value of an annotation built by ``_Converter`` (names, ``[]``, ``|``, literals).

    A few node types, evaluated directly: cheaper than compiling each annotation, and nothing
    but lookups in ``namespace`` can run.
    """
    if isinstance(node, ast.Name):
        return namespace[node.id] if node.id != "None" else None
    if isinstance(node, ast.Constant):
        return node.value
    if isinstance(node, ast.Subscript):
        return _evaluate(node.value, namespace)[_evaluate(node.slice, namespace)]
    if isinstance(node, ast.Tuple):
        return tuple(_evaluate(elt, namespace) for elt in node.elts)
    if isinstance(node, ast.List):
        return [_evaluate(elt, namespace) for elt in node.elts]
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.BitOr):
        return _evaluate(node.left, namespace) | _evaluate(node.right, namespace)
    raise ValueError(f"not an annotation: {ast.dump(node)}")


# --- signatures and docstrings ---------------------------------------------------------------

_DOC_RULES: Final = (
    (re.compile(r"\basync (with|for|def)\b"), r"\1"),
    (re.compile(r"(?<![\w`])await (?=[\w(])"), ""),
    (re.compile(r"\baclose\b"), "close"),
)


def sync_doc(doc: str | None) -> str | None:
    """An async docstring as the sync facade's: ``async with`` -> ``with``, no ``await``..."""
    if doc is None:
        return None
    for pattern, replacement in _DOC_RULES:
        doc = pattern.sub(replacement, doc)
    for async_cls, sync_cls in _REGISTERED.items():
        doc = re.sub(rf"\b{async_cls.__name__}\b", sync_cls.__name__, doc)
    return doc


class _Described(NamedTuple):
    signature: inspect.Signature
    annotations: dict[str, object]
    doc: str | None


_SIGNATURES: Final[dict[object, _Described]] = {}


def sync_signature(func: Callable[..., Any]) -> inspect.Signature:
    """The signature a blocking call of ``func`` (a method of an async class) has, with self."""
    return _describe(func).signature


def _describe(func: Callable[..., Any]) -> _Described:
    known = _SIGNATURES.get(func)
    if known is not None:
        return known
    signature = inspect.signature(func, eval_str=False)
    module = func.__module__
    annotations: dict[str, object] = {}
    parameters = []
    for param in signature.parameters.values():
        if param.annotation is not inspect.Parameter.empty:
            text, value = _annotation(param.annotation, module, mirror=False)
            annotations[param.name] = value
            param = param.replace(annotation=text)
        parameters.append(param)
    returns: object = inspect.Signature.empty
    if signature.return_annotation is not inspect.Signature.empty:
        returns, annotations["return"] = _return_annotation(func, signature.return_annotation)
    # Only what resolved: text left there would make typing.get_type_hints raise NameError.
    annotations = {k: v for k, v in annotations.items() if not isinstance(v, AnnotationText)}
    described = _Described(
        signature.replace(parameters=parameters, return_annotation=returns),
        annotations,
        sync_doc(inspect.getdoc(func)),
    )
    _SIGNATURES[func] = described
    return described


def _return_annotation(func: Callable[..., Any], annotation: object) -> tuple[str, object]:
    module = func.__module__
    text, value = _annotation(annotation, module, mirror=True)
    unwrapped = inspect.unwrap(func)
    if unwrapped is not func and inspect.isasyncgenfunction(unwrapped):
        # @asynccontextmanager: declared AsyncIterator[X], returns a context manager of X.
        tree = ast.parse(text, mode="eval").body
        inner = ast.unparse(tree.slice) if isinstance(tree, ast.Subscript) else "Any"
        text = AnnotationText(f"AbstractContextManager[{inner}]")
        if isinstance(value, types.GenericAlias):
            from contextlib import AbstractContextManager

            value = AbstractContextManager[value.__args__[0]]  # type: ignore[name-defined]
        else:
            value = text
    return text, value


def _with_self(signature: inspect.Signature, static: object) -> inspect.Signature:
    """``signature`` as that of a plain method (``self`` first, no ``cls``)."""
    parameters = list(signature.parameters.values())
    if not isinstance(static, staticmethod) and parameters:
        parameters = parameters[1:]  # the async method's own self (or cls)
    this = inspect.Parameter("self", inspect.Parameter.POSITIONAL_OR_KEYWORD)
    return signature.replace(parameters=[this, *parameters])


def _function_of(static: object) -> Callable[..., Any]:
    if isinstance(static, (staticmethod, classmethod)):
        return static.__func__
    return static  # type: ignore[return-value]


def _dress(
    func: Callable[..., Any],
    *,
    name: str,
    owner: str,
    described: _Described,
    signature: inspect.Signature,
    module: str = __name__,
) -> Callable[..., Any]:
    func.__name__ = name
    func.__qualname__ = f"{owner}.{name}"
    func.__module__ = module
    func.__doc__ = described.doc
    func.__signature__ = signature  # type: ignore[attr-defined]
    func.__annotations__ = dict(described.annotations)
    return func


# --- proxy classes ---------------------------------------------------------------------------

# What ``with`` and ``for`` give: the proxy bases implement them, but the classes they return
# are part of the surface too (so that ``complete()`` reaches them).
_REACHED_BY: Final = ("__aenter__", "__aiter__", "__anext__")
_LOCK: Final = threading.RLock()
_PROXIES: Final[dict[type, type]] = {}
"""Async class -> its proxy class (members declared or not yet)."""
_PENDING: Final[dict[type, type]] = {}
"""Proxy class -> its async class, for the proxy classes whose members are not declared yet."""
_REGISTERED: Final[dict[type, type]] = {}
_bases: Callable[[type], type] | None = None


def bind(proxy_base: Callable[[type], type]) -> None:
    """Tell this module which proxy class (of ``_sync``) wraps instances of an async class."""
    global _bases
    _bases = proxy_base


def register(async_cls: type, sync_cls: type) -> None:
    """Show ``sync_cls`` for ``async_cls`` in signatures (``AsyncAerostack``: ``Aerostack``)."""
    _REGISTERED[async_cls] = sync_cls


def sync_class(cls: type, *, attribute: bool = False) -> type | None:
    """The class the facade gives for instances of ``cls``, or None if it returns them as is."""
    registered = _REGISTERED.get(cls)
    if registered is not None:
        return registered
    if _bases is None or not _is_wrapped(cls, attribute=attribute):
        return None
    return _proxy_type(cls)


class _ProxyType(type):
    """The metaclass of the proxy classes: their members are declared on first look.

    Deriving every signature costs a few milliseconds per class, so a class named in another's
    annotations (``cache: SyncCache``) is created bare, and gets its members when it is first
    instantiated (``proxy_class``) or inspected: ``dir()`` (what ``help``, completion and docs
    tools call) or a missing attribute.
    """

    def __dir__(cls) -> list[str]:
        _declare(cls)
        return sorted(type.__dir__(cls))

    def __getattr__(cls, name: str) -> Any:
        if name.startswith("__") or not _declare(cls):
            raise AttributeError(name)
        return getattr(cls, name)


def proxy_class(cls: type) -> type:
    """The proxy class for instances of async class ``cls``, with its members declared.

    It is ``_sync``'s proxy base for the kind of object ``cls`` is (context manager, iterator…)
    plus, as class attributes, ``cls``'s public members: a function per method, with the sync
    signature and docstring, and a property per property or attribute, whose return
    annotation is the sync type.
    """
    proxy = _PROXIES.get(cls)
    if proxy is None or proxy in _PENDING:
        proxy = _proxy_type(cls)
        _declare(proxy)
    return proxy


def complete() -> list[type]:
    """Every proxy class the facade can hand out, from the roots registered: all declared."""
    with _LOCK:
        while _PENDING:
            _declare(next(iter(_PENDING)))
        return list(_PROXIES.values())


def _proxy_type(cls: type) -> type:
    """The proxy class for ``cls``, created bare if it does not exist yet."""
    proxy = _PROXIES.get(cls)
    if proxy is not None:
        return proxy
    with _LOCK:
        proxy = _PROXIES.get(cls)
        if proxy is not None:
            return proxy
        assert _bases is not None, "_sync binds the proxy bases on import"
        name = f"Sync{cls.__name__.removeprefix('Async')}"
        namespace: dict[str, Any] = {
            "__slots__": (),
            "__module__": __name__,
            "__qualname__": name,
            "__doc__": _class_doc(cls),
        }
        if getattr(cls, "__parameters__", ()):
            # ``SyncPages[CacheKeyInfo]`` in a return type, as ``Pages[CacheKeyInfo]`` is.
            namespace["__class_getitem__"] = classmethod(types.GenericAlias)
        proxy = _ProxyType(name, (_bases(cls),), namespace)
        _PENDING[proxy] = cls
        _PROXIES[cls] = proxy
        # Importable where its __module__ and __qualname__ say (docs tools and pickle look).
        globals().setdefault(name, proxy)
        return proxy


def _declare(proxy: type) -> bool:
    """Declare the members of a bare proxy class; False if there was nothing to do."""
    if proxy not in _PENDING:
        return False
    with _LOCK:
        cls = _PENDING.get(proxy)
        if cls is None:
            return False  # declared meanwhile by another thread
        base = proxy.__mro__[1]
        for member in members(cls):
            if hasattr(base, member.name):
                continue  # the base implements it (an iterator's close and take_buffered)
            type.__setattr__(proxy, member.name, _proxy_member(member, proxy.__name__))
        # Published only now: another thread sees a bare class or a whole one.
        del _PENDING[proxy]
        for dunder in _REACHED_BY:
            func = inspect.getattr_static(cls, dunder, None)
            if inspect.isfunction(func):
                _describe(func)  # creates the classes it returns (a manager's stream)
        return True


def _class_doc(cls: type) -> str:
    doc = sync_doc(inspect.getdoc(cls)) or ""
    mirror = f"The blocking mirror of `{cls.__module__}.{cls.__qualname__}`."
    return f"{doc}\n\n{mirror}" if doc else mirror


def _proxy_member(member: Member, owner: str) -> object:
    static = inspect.getattr_static(member.owner, member.async_name, None)
    if member.kind == "method":
        async_name = member.async_name

        def method(self: Any, /, *args: Any, **kwargs: Any) -> Any:
            return self._sync_call(async_name, args, kwargs)

        described = _describe(_function_of(static))
        signature = _with_self(described.signature, static)
        return _dress(
            method, name=member.name, owner=owner, described=described, signature=signature
        )
    name = member.name

    def get(self: Any) -> Any:
        cached = self._sync_cache.get(name)
        return self.__getattr__(name) if cached is None else cached

    return _property(get, member, owner)


def _property(
    get: Callable[[Any], Any], member: Member, owner: str, *, module: str = __name__
) -> property:
    """A property named after ``member`` whose getter's return annotation is its sync type."""
    get.__name__ = member.name
    get.__qualname__ = f"{owner}.{member.name}"
    get.__module__ = module
    static = inspect.getattr_static(member.owner, member.async_name, None)
    doc: str | None = None
    annotation: tuple[str, object] | None = None
    if isinstance(static, (property, functools.cached_property)):
        getter = static.fget if isinstance(static, property) else static.func
        if getter is not None:
            described = _describe(getter)
            doc = described.doc
            if "return" in described.annotations:
                text = str(described.signature.return_annotation)
                annotation = (text, described.annotations["return"])
    else:
        declared = _declared_annotation(member.owner, member.async_name)
        if declared is not None:
            written, module = declared
            annotation = _annotation(written, module, mirror=True, attribute=True)
            value = annotation[1]
            if isinstance(value, type):
                doc = _first_paragraph(value.__doc__)
    if annotation is not None:
        get.__annotations__ = {"return": annotation[1]}
        this = inspect.Parameter("self", inspect.Parameter.POSITIONAL_OR_KEYWORD)
        get.__signature__ = inspect.Signature(  # type: ignore[attr-defined]
            [this], return_annotation=AnnotationText(annotation[0])
        )
    return property(get, doc=doc)


def _declared_annotation(cls: type, name: str) -> tuple[object, str] | None:
    for klass in cls.__mro__[:-1]:
        declared = vars(klass).get("__annotations__", {})
        if name in declared:
            return declared[name], klass.__module__
    return None


def _first_paragraph(doc: str | None) -> str | None:
    if not doc:
        return None
    return inspect.cleandoc(doc).split("\n\n", 1)[0]


# --- the clients -----------------------------------------------------------------------------


def install_root(client_cls: type, async_cls: type) -> None:
    """Give a sync client class the members of the async root it wraps, as class attributes.

    Each delegates to the client's root proxy (``client._sync_root_proxy()``), which starts the
    loop thread on first use; reading them from the class (``dir``, ``help``, completion) does
    not. Names the client class defines itself (``close``…) are kept. ``client_cls.__init__``
    gets the async class's parameters followed by its own keyword-only ones.
    """
    for member in members(async_cls):
        if hasattr(client_cls, member.name):
            continue
        setattr(client_cls, member.name, _root_member(member, client_cls))
    init = client_cls.__dict__.get("__init__")
    if init is not None:
        init.__signature__ = _merged_init(init, async_cls)


def _root_member(member: Member, client_cls: type) -> object:
    name, owner = member.name, client_cls.__qualname__
    if member.kind == "method":

        def method(self: Any, /, *args: Any, **kwargs: Any) -> Any:
            return getattr(self._sync_root_proxy(), name)(*args, **kwargs)

        static = inspect.getattr_static(member.owner, member.async_name)
        described = _describe(_function_of(static))
        return _dress(
            method,
            name=name,
            owner=owner,
            described=described,
            signature=_with_self(described.signature, static),
            module=client_cls.__module__,
        )

    def get(self: Any) -> Any:
        return getattr(self._sync_root_proxy(), name)

    return _property(get, member, owner, module=client_cls.__module__)


def _merged_init(init: Callable[..., Any], async_cls: type) -> inspect.Signature:
    theirs = _describe(vars(async_cls)["__init__"]).signature
    ours = inspect.signature(init)
    params = [p for p in theirs.parameters.values() if p.kind is not p.VAR_KEYWORD]
    var_keyword = [p for p in theirs.parameters.values() if p.kind is p.VAR_KEYWORD]
    for param in ours.parameters.values():
        if param.kind is param.KEYWORD_ONLY:
            if isinstance(param.annotation, str):
                text = _annotation(param.annotation, init.__module__, mirror=False)[0]
                param = param.replace(annotation=text)
            params.append(param)
    return theirs.replace(
        parameters=[*params, *var_keyword], return_annotation=AnnotationText("None")
    )


def describe_twins(*classes: type) -> None:
    """Show the seed-style methods (``op`` and ``op_async``) with real, resolved annotations.

    Both forms are written by hand; here each ``op`` is given the sync signature of its
    ``op_async`` original (return type included), and ``op_async`` its own, unquoted.
    """
    for cls in classes:
        for name, func in list(vars(cls).items()):
            if name.startswith("_") or not inspect.isfunction(func):
                continue
            twin = vars(cls).get(f"{name}_async")
            source = twin if inspect.iscoroutinefunction(twin) else func
            described = _describe(source)
            func.__signature__ = described.signature  # type: ignore[attr-defined]
            func.__annotations__ = dict(described.annotations)
            if func.__doc__ is None:
                func.__doc__ = described.doc
