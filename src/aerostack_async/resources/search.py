"""``client.search``: the managed semantic index (``/ai/search/*``)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from .._options import CallOptions, Unpack
from ..errors import InvalidRequestError
from ..models._base import decoder_for
from ..models.search import (
    ConfigureRequest,
    ConfigureResult,
    CountRequest,
    CountResult,
    DeleteByTypeResult,
    IngestRequest,
    IngestResult,
    ListTypesResult,
    SearchChangeResult,
    SearchGetResult,
    SearchIdRequest,
    SearchQueryRequest,
    SearchQueryResult,
    SearchTypeRequest,
    SearchUpdateRequest,
)
from ._base import (
    Resource,
    check_list,
    check_optional_int,
    check_optional_object,
    check_optional_str,
    check_str,
    encode_body,
)

__all__ = ["Search"]

EMBEDDING_MODELS = ("english", "multilingual")
_INGEST = decoder_for(IngestResult)
_QUERY = decoder_for(SearchQueryResult)
_GET = decoder_for(SearchGetResult)
_CHANGE = decoder_for(SearchChangeResult)
_DELETE_BY_TYPE = decoder_for(DeleteByTypeResult)
_TYPES = decoder_for(ListTypesResult)
_COUNT = decoder_for(CountResult)
_CONFIGURE = decoder_for(ConfigureResult)


class Search(Resource):
    """Ingest documents and find the ones closest in meaning to a text."""

    __slots__ = ()

    async def ingest(
        self,
        content: str,
        type: str,
        *,
        id: str | None = None,
        metadata: Mapping[str, Any] | None = None,
        **options: Unpack[CallOptions],
    ) -> IngestResult:
        """Index ``content`` as a document of ``type`` (``id`` is generated unless given)."""
        body = encode_body(
            IngestRequest(
                content=check_str("content", content),
                type=check_str("type", type),
                id=check_optional_str("id", id),
                metadata=check_optional_object("metadata", metadata),
            )
        )
        return await self._transport.request(
            "POST", "/ai/search/ingest", body, _INGEST, mutating=True, options=options
        )

    async def query(
        self,
        text: str,
        *,
        top_k: int | None = None,
        types: Sequence[str] | None = None,
        filter: Mapping[str, Any] | None = None,
        **options: Unpack[CallOptions],
    ) -> SearchQueryResult:
        """The ``top_k`` (default 5) documents closest to ``text``, best first.

        ``types`` limits the document types; ``filter`` keeps documents whose metadata has
        these exact values.
        """
        type_list = None
        if types is not None:
            type_list = [check_str("types[]", t) for t in check_list("types", types)]
        body = encode_body(
            SearchQueryRequest(
                text=check_str("text", text),
                top_k=check_optional_int("top_k", top_k, minimum=1),
                types=type_list,
                filter=check_optional_object("filter", filter),
            )
        )
        return await self._transport.request(
            "POST", "/ai/search/query", body, _QUERY, mutating=False, options=options
        )

    async def get(self, id: str, **options: Unpack[CallOptions]) -> SearchGetResult:
        """The document with this id (``exists`` False if there is none)."""
        body = encode_body(SearchIdRequest(id=check_str("id", id)))
        return await self._transport.request(
            "POST", "/ai/search/get", body, _GET, mutating=False, options=options
        )

    async def update(
        self,
        id: str,
        content: str,
        *,
        type: str | None = None,
        metadata: Mapping[str, Any] | None = None,
        **options: Unpack[CallOptions],
    ) -> SearchChangeResult:
        """Replace a document's content (and optionally its type and metadata)."""
        body = encode_body(
            SearchUpdateRequest(
                id=check_str("id", id),
                content=check_str("content", content),
                type=check_optional_str("type", type),
                metadata=check_optional_object("metadata", metadata),
            )
        )
        return await self._transport.request(
            "POST", "/ai/search/update", body, _CHANGE, mutating=True, options=options
        )

    async def delete(self, id: str, **options: Unpack[CallOptions]) -> SearchChangeResult:
        """Remove a document from the index."""
        body = encode_body(SearchIdRequest(id=check_str("id", id)))
        return await self._transport.request(
            "POST", "/ai/search/delete", body, _CHANGE, mutating=True, options=options
        )

    async def delete_by_type(self, type: str, **options: Unpack[CallOptions]) -> DeleteByTypeResult:
        """Remove every document of ``type``."""
        body = encode_body(SearchTypeRequest(type=check_str("type", type)))
        return await self._transport.request(
            "POST", "/ai/search/deleteByType", body, _DELETE_BY_TYPE, mutating=True,
            options=options,
        )  # fmt: skip

    async def count(self, type: str | None = None, **options: Unpack[CallOptions]) -> CountResult:
        """How many documents there are (of ``type``, or all)."""
        body = encode_body(CountRequest(type=check_optional_str("type", type)))
        return await self._transport.request(
            "POST", "/ai/search/count", body, _COUNT, mutating=False, options=options
        )

    async def list_types(self, **options: Unpack[CallOptions]) -> ListTypesResult:
        """Every document type and its count."""
        return await self._transport.request(
            "GET", "/ai/search/listTypes", None, _TYPES, mutating=False, options=options
        )

    async def configure(
        self, embedding_model: str, **options: Unpack[CallOptions]
    ) -> ConfigureResult:
        """Choose the index's embedding model: ``"english"`` or ``"multilingual"``."""
        model = check_str("embedding_model", embedding_model)
        if model not in EMBEDDING_MODELS:
            raise InvalidRequestError("embedding_model must be 'english' or 'multilingual'")
        body = encode_body(ConfigureRequest(embedding_model=model))
        return await self._transport.request(
            "POST", "/ai/search/configure", body, _CONFIGURE, mutating=True, options=options
        )
