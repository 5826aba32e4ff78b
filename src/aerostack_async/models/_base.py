"""The base of every wire type, and the shared encoder / per-type decoders."""

from __future__ import annotations

import copy
from collections.abc import Callable
from functools import lru_cache
from typing import Any, TypeVar

import msgspec

__all__ = ["Model", "Success", "decoder_for", "encode"]

T = TypeVar("T")
_PLAIN = (str, int, float, bool, type(None))


class Model(msgspec.Struct, kw_only=True, omit_defaults=True):
    """A request or response body: keyword-only, defaults left off the wire.

    Attributes are snake_case; fields whose wire name differs are renamed with
    ``msgspec.field(name=...)``. Unknown fields in responses are ignored.

    Every model travels beyond the client: ``to_dict()``
    gives plain JSON-ready values, ``msgspec.to_builtins(model)`` and ``msgspec.json.encode``
    work as for any Struct, ``vars(model)`` maps wire names to values (so FastAPI's encoder
    takes a model returned bare), and pydantic (so FastAPI) can use a model as a field type,
    ``response_model`` or return annotation.
    """

    def to_dict(self, *, python_names: bool = False) -> dict[str, Any]:
        """Every field (defaults included) as plain ``json.dumps``-ready values, recursively.

        Keys are the API's wire names (``jobId``, ``createdAt``), the names the JSON had;
        ``python_names=True`` gives the attribute names instead (``job_id``, ``created_at``).
        Datetimes become RFC 3339 strings, as ``msgspec.to_builtins`` makes them.
        """
        return _struct_dict(self, python_names)

    @property
    def __dict__(self) -> dict[str, Any]:  # type: ignore[override]
        """``vars(model)``: each field by wire name, values as they are (nested models stay).

        A Struct has no instance dict; this one is what lets FastAPI's encoder (which falls
        back to ``vars()`` for objects it does not know) return a bare model.
        """
        cls = type(self)
        return {
            wire: getattr(self, name)
            for name, wire in zip(cls.__struct_fields__, cls.__struct_encode_fields__, strict=True)
        }

    @classmethod
    def __get_pydantic_core_schema__(cls, source: Any, handler: Any) -> Any:
        """Let pydantic (and so FastAPI) validate and serialize this model.

        Input is an instance or anything ``msgspec.convert`` turns into one (a dict with wire
        names); output is `to_dict()`. pydantic is imported only when it asks.
        """
        from pydantic_core import core_schema

        def validate(value: Any) -> Any:
            if isinstance(value, cls):
                return value
            try:
                return msgspec.convert(value, cls)
            except msgspec.ValidationError as exc:
                raise ValueError(str(exc)) from None

        return core_schema.no_info_plain_validator_function(
            validate,
            serialization=core_schema.plain_serializer_function_ser_schema(
                _serializer(cls), when_used="always"
            ),
        )

    @classmethod
    def __get_pydantic_json_schema__(cls, core_schema: Any, handler: Any) -> dict[str, Any]:
        """The JSON Schema msgspec gives this model, references inlined (for OpenAPI pages)."""
        return _json_schema(cls)


class Success(Model, kw_only=True):
    """A change that reports only whether it succeeded."""

    success: bool = True


encode = msgspec.json.Encoder().encode
"""Encode a Struct (or any JSON-compatible value) to JSON bytes."""


@lru_cache(maxsize=256)
def decoder_for(type_: Any) -> msgspec.json.Decoder[Any]:
    """The JSON decoder for ``type_``, built once and reused."""
    return msgspec.json.Decoder(type_)


def _plain(value: Any, python_names: bool) -> Any:
    if isinstance(value, _PLAIN):
        return value
    if isinstance(value, msgspec.Struct):
        return _struct_dict(value, python_names)
    if isinstance(value, dict):
        return {
            key if isinstance(key, str) else msgspec.to_builtins(key): _plain(item, python_names)
            for key, item in value.items()
        }
    if isinstance(value, (list, tuple)):
        return [_plain(item, python_names) for item in value]
    return msgspec.to_builtins(value)


def _struct_dict(struct: msgspec.Struct, python_names: bool) -> dict[str, Any]:
    cls = type(struct)
    names = cls.__struct_fields__
    keys = names if python_names else cls.__struct_encode_fields__
    return {
        key: _plain(getattr(struct, name), python_names)
        for key, name in zip(keys, names, strict=True)
    }


def _serializer(cls: type[Model]) -> Callable[[Model], dict[str, Any]]:
    def serialize(value: Model) -> dict[str, Any]:
        return value.to_dict() if isinstance(value, Model) else msgspec.to_builtins(value)

    serialize.__name__ = f"serialize_{cls.__name__}"
    return serialize


@lru_cache(maxsize=256)
def _schema_of(cls: type[Model]) -> dict[str, Any]:
    schema: dict[str, Any] = msgspec.json.schema(cls)
    definitions: dict[str, Any] = schema.pop("$defs", {})

    def inline(node: Any, seen: frozenset[str]) -> Any:
        if isinstance(node, dict):
            ref = node.get("$ref")
            if isinstance(ref, str) and ref.startswith("#/$defs/"):
                name = ref.removeprefix("#/$defs/")
                if name in seen:  # a recursive type: stop at "some object"
                    return {"type": "object"}
                return inline(definitions[name], seen | {name})
            return {key: inline(item, seen) for key, item in node.items()}
        if isinstance(node, list):
            return [inline(item, seen) for item in node]
        return node

    inlined: dict[str, Any] = inline(schema, frozenset())
    return inlined


def _json_schema(cls: type[Model]) -> dict[str, Any]:
    # A copy: pydantic may annotate what it is given.
    return copy.deepcopy(_schema_of(cls))
