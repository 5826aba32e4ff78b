"""Decoding a JSON request body without trusting its nesting.

msgspec (like Python's ``json``) recurses once per level of nesting, so a body of a few
kilobytes of ``[`` would raise ``RecursionError`` (an internal error, a 500, which clients then
retry). Bodies nested deeper than `MAX_JSON_DEPTH` levels are refused with 400
``VALIDATION_ERROR`` instead, before or after decoding, whichever is cheaper.
"""

from __future__ import annotations

from typing import Any

import msgspec

from ._errors import ApiError, validation_error

__all__ = ["MAX_JSON_DEPTH", "decode_json_body"]

MAX_JSON_DEPTH = 512
"""Deepest nesting of arrays and objects a JSON body may have (the body's own object is 1)."""

_decode = msgspec.json.Decoder().decode


def _too_deep() -> ApiError:
    return validation_error(
        {"body": [f"Nested deeper than {MAX_JSON_DEPTH} levels of arrays and objects"]},
        f"Request body is nested deeper than {MAX_JSON_DEPTH} levels",
    )


def decode_json_body(raw: bytes) -> Any:
    """``raw`` decoded; raises ``msgspec.DecodeError`` for bad JSON, ApiError if too deep."""
    try:
        data = _decode(raw)
    except RecursionError:
        raise _too_deep() from None
    # Every level costs a bracket: only a body with more brackets than the limit needs a look.
    if raw.count(b"[") + raw.count(b"{") > MAX_JSON_DEPTH and _too_deep_tree(data):
        raise _too_deep()
    return data


def _too_deep_tree(tree: Any) -> bool:
    """Whether ``tree`` nests arrays and objects deeper than the limit (level by level, no
    recursion; the cost is one step per array or object)."""
    level = [tree] if isinstance(tree, (dict, list)) else []
    depth = 0
    while level:
        depth += 1
        if depth > MAX_JSON_DEPTH:
            return True
        below: list[Any] = []
        for node in level:
            children = node.values() if isinstance(node, dict) else node
            below += [child for child in children if isinstance(child, (dict, list))]
        level = below
    return False
