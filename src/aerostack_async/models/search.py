"""Wire types of ``/ai/search/*``, the managed semantic index."""

from __future__ import annotations

from typing import Any, Literal

import msgspec

from ._base import Model

__all__ = [
    "ConfigureRequest",
    "ConfigureResult",
    "CountRequest",
    "CountResult",
    "DeleteByTypeResult",
    "EmbeddingModel",
    "IngestRequest",
    "IngestResult",
    "ListTypesResult",
    "SearchChangeResult",
    "SearchDocument",
    "SearchGetResult",
    "SearchHit",
    "SearchIdRequest",
    "SearchQueryRequest",
    "SearchQueryResult",
    "SearchTypeRequest",
    "SearchUpdateRequest",
    "TypeCount",
]

EmbeddingModel = Literal["english", "multilingual"]


class IngestRequest(Model, kw_only=True):
    """``/ai/search/ingest``: index ``content`` under ``type`` (``id`` generated if omitted)."""

    content: str
    type: str
    id: str | None = None
    metadata: dict[str, Any] | None = None


class IngestResult(Model, kw_only=True):
    """The document's id."""

    success: bool
    id: str


class SearchQueryRequest(Model, kw_only=True):
    """``/ai/search/query``: the ``top_k`` documents closest to ``text``."""

    text: str
    top_k: int | None = msgspec.field(default=None, name="topK")
    types: list[str] | None = None
    filter: dict[str, Any] | None = None


class SearchHit(Model, kw_only=True):
    """A matching document and its similarity score."""

    id: str
    content: str
    score: float
    type: str
    metadata: dict[str, Any] = {}


class SearchQueryResult(Model, kw_only=True):
    """Matches, best first."""

    results: list[SearchHit]


class SearchIdRequest(Model, kw_only=True):
    """``/ai/search/get`` and ``/ai/search/delete``: one id."""

    id: str


class SearchDocument(Model, kw_only=True):
    """A stored document."""

    id: str
    content: str
    type: str
    metadata: dict[str, Any] = {}


class SearchGetResult(Model, kw_only=True):
    """The document, if it exists."""

    result: SearchDocument | None = None
    exists: bool


class SearchUpdateRequest(Model, kw_only=True):
    """``/ai/search/update``: replace a document's content (and type or metadata)."""

    id: str
    content: str
    type: str | None = None
    metadata: dict[str, Any] | None = None


class SearchTypeRequest(Model, kw_only=True):
    """``/ai/search/deleteByType``: one type."""

    type: str


class SearchChangeResult(Model, kw_only=True):
    """An update or delete: ``success``, the id concerned, and whether something was deleted."""

    success: bool = True
    id: str | None = None
    deleted: int | None = None


class DeleteByTypeResult(Model, kw_only=True):
    """How many documents of the type were deleted."""

    success: bool = True
    deleted: int = 0


class TypeCount(Model, kw_only=True):
    """A document type and how many documents have it."""

    type: str
    count: int


class ListTypesResult(Model, kw_only=True):
    """Every type in the index."""

    types: list[TypeCount]


class CountRequest(Model, kw_only=True):
    """``/ai/search/count``: documents of one type, or all."""

    type: str | None = None


class CountResult(Model, kw_only=True):
    """A document count."""

    count: int


class ConfigureRequest(Model, kw_only=True):
    """``/ai/search/configure``: which embedding model the index uses."""

    embedding_model: str = msgspec.field(name="embeddingModel")


class ConfigureResult(Model, kw_only=True):
    """The model now in use."""

    success: bool = True
    embedding_model: str | None = msgspec.field(default=None, name="embeddingModel")
