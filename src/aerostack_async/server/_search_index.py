"""The emulator's search index: a deterministic local embedding and cosine similarity in SQLite.

The "embedding" is feature hashing, not a neural model. Text is lower-cased and split into
word tokens; each feature is hashed (BLAKE2b) into one of 1,024 dimensions, weighted
``1 + ln(count)``, and the vector is L2-normalised, so the score of a query against a document
is their cosine similarity, from 0 (no feature shared) to 1 (the same features).

- ``english`` (the default): words, minus a short stop-word list, with a crude plural
  stripper ("caches" → "cache").
- ``multilingual``: words plus the character trigrams of each word (weight 0.5), so text
  without spaces or with inflections (Japanese, German compounds, …) still overlaps.

Similar wording scores high; synonyms and meaning do not. Vectors are stored sparse (only the
non-zero dimensions), and a query scores every document of the requested types.
"""

from __future__ import annotations

import hashlib
import math
import re
import sqlite3
from collections import Counter
from collections.abc import Iterable
from typing import Any

import msgspec

DIMENSIONS = 1024
MODELS = ("english", "multilingual")
DEFAULT_MODEL = "english"
_WORD = re.compile(r"\w+")
# fmt: off
_ENGLISH_STOPWORDS = frozenset((
    "a", "an", "and", "are", "as", "at", "be", "but", "by", "for", "from", "has", "have", "i",
    "in", "is", "it", "its", "of", "on", "or", "that", "the", "this", "to", "was", "were",
    "will", "with", "you", "your",
))
# fmt: on

SCHEMA = """
CREATE TABLE IF NOT EXISTS search_documents (
    id TEXT PRIMARY KEY,
    type TEXT NOT NULL,
    content TEXT NOT NULL,
    metadata TEXT NOT NULL,
    vector BLOB NOT NULL,
    created_at REAL NOT NULL,
    updated_at REAL NOT NULL
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS search_documents_by_type ON search_documents (type);
CREATE TABLE IF NOT EXISTS search_settings (name TEXT PRIMARY KEY, value TEXT NOT NULL);
"""

Vector = dict[int, float]
_encode = msgspec.json.Encoder().encode
_decode_vector = msgspec.json.Decoder(list[tuple[int, float]]).decode
_decode_json = msgspec.json.Decoder().decode


def _bucket(feature: str) -> int:
    digest = hashlib.blake2b(feature.encode("utf-8", "surrogatepass"), digest_size=8).digest()
    return int.from_bytes(digest, "big") % DIMENSIONS


def _singular(word: str) -> str:
    if len(word) > 4 and word.endswith("ies"):
        return word[:-3] + "y"
    if len(word) > 3 and word.endswith("s") and not word.endswith(("ss", "us", "is")):
        return word[:-1]
    return word


def _features(text: str, model: str) -> Iterable[tuple[str, float]]:
    for word in _WORD.findall(text.lower()):
        if model == "english":
            if word not in _ENGLISH_STOPWORDS:
                yield "w:" + _singular(word), 1.0
            continue
        yield "w:" + word, 1.0
        padded = f"^{word}$"
        for start in range(len(padded) - 2):
            yield "c:" + padded[start : start + 3], 0.5


def embed(text: str, model: str) -> Vector:
    """The L2-normalised hashed feature vector of ``text`` (empty if it has no words)."""
    counts: Counter[int] = Counter()
    weights: dict[int, float] = {}
    for feature, weight in _features(text, model):
        bucket = _bucket(feature)
        counts[bucket] += 1
        weights[bucket] = max(weights.get(bucket, 0.0), weight)
    vector = {bucket: weights[bucket] * (1 + math.log(n)) for bucket, n in counts.items()}
    norm = math.sqrt(sum(value * value for value in vector.values()))
    return {bucket: value / norm for bucket, value in vector.items()} if norm else {}


def cosine(a: Vector, b: Vector) -> float:
    """The cosine similarity of two normalised vectors."""
    if len(b) < len(a):
        a, b = b, a
    return sum(value * b.get(bucket, 0.0) for bucket, value in a.items())


def _same(a: Any, b: Any) -> bool:
    # JSON equality: true is not 1, but 1 is 1.0.
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool) and a == b
    return bool(a == b)


def matches(metadata: dict[str, Any], wanted: dict[str, Any]) -> bool:
    """Whether ``metadata`` has every key of ``wanted`` with an equal value."""
    return all(key in metadata and _same(metadata[key], value) for key, value in wanted.items())


def document(row: sqlite3.Row) -> dict[str, Any]:
    """A stored document as the API returns it."""
    return {
        "id": row["id"],
        "content": row["content"],
        "type": row["type"],
        "metadata": _decode_json(row["metadata"]),
    }


def current_model(conn: sqlite3.Connection) -> str:
    """The configured embedding model."""
    row = conn.execute("SELECT value FROM search_settings WHERE name = 'embeddingModel'").fetchone()
    return str(row[0]) if row is not None else DEFAULT_MODEL


def upsert(
    conn: sqlite3.Connection,
    doc_id: str,
    doc_type: str,
    content: str,
    metadata: dict[str, Any],
    now: float,
) -> None:
    """Store (or replace) one document with its vector."""
    vector = _encode(sorted(embed(content, current_model(conn)).items()))
    conn.execute(
        "INSERT INTO search_documents VALUES (?, ?, ?, ?, ?, ?, ?)"
        " ON CONFLICT (id) DO UPDATE SET type = excluded.type, content = excluded.content,"
        " metadata = excluded.metadata, vector = excluded.vector,"
        " updated_at = excluded.updated_at",
        (doc_id, doc_type, content, _encode(metadata), vector, now, now),
    )


def query(
    conn: sqlite3.Connection,
    text: str,
    top_k: int,
    types: list[str] | None,
    wanted: dict[str, Any] | None,
) -> list[dict[str, Any]]:
    """The ``top_k`` best documents for ``text``: score descending, then id."""
    probe = embed(text, current_model(conn))
    sql = "SELECT * FROM search_documents"
    params: list[Any] = []
    if types is not None:
        sql += f" WHERE type IN ({', '.join('?' * len(types))})"
        params += types
    scored: list[tuple[float, str, dict[str, Any]]] = []
    for row in conn.execute(sql, params):
        doc = document(row)
        if wanted and not (isinstance(doc["metadata"], dict) and matches(doc["metadata"], wanted)):
            continue
        score = cosine(probe, dict(_decode_vector(row["vector"])))
        scored.append((score, row["id"], doc))
    scored.sort(key=lambda item: (-item[0], item[1]))
    return [{**doc, "score": round(score, 6)} for score, _, doc in scored[:top_k]]


def configure(conn: sqlite3.Connection, model: str) -> None:
    """Switch the embedding model and re-embed every document with it."""
    conn.execute(
        "INSERT OR REPLACE INTO search_settings VALUES ('embeddingModel', ?)",
        (model,),
    )
    rows = conn.execute("SELECT id, content FROM search_documents").fetchall()
    for row in rows:
        vector = _encode(sorted(embed(row["content"], model).items()))
        conn.execute("UPDATE search_documents SET vector = ? WHERE id = ?", (vector, row["id"]))
