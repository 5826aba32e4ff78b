"""The base of every wire type, and the shared encoder / per-type decoders."""

from __future__ import annotations

from functools import lru_cache
from typing import Any, TypeVar

import msgspec

__all__ = ["Model", "Success", "decoder_for", "encode"]

T = TypeVar("T")


class Model(msgspec.Struct, kw_only=True, omit_defaults=True):
    """A request or response body: keyword-only, defaults left off the wire.

    Attributes are snake_case; fields whose wire name differs are renamed with
    ``msgspec.field(name=...)``. Unknown fields in responses are ignored.
    """


class Success(Model, kw_only=True):
    """A change that reports only whether it succeeded."""

    success: bool = True


encode = msgspec.json.Encoder().encode
"""Encode a Struct (or any JSON-compatible value) to JSON bytes."""


@lru_cache(maxsize=256)
def decoder_for(type_: Any) -> msgspec.json.Decoder[Any]:
    """The JSON decoder for ``type_``, built once and reused."""
    return msgspec.json.Decoder(type_)
