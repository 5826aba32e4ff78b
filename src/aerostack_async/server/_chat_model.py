"""The emulator's local "chat model": a deterministic text generator, not a language model.

It fills a handful of fixed sentence patterns with words taken from the last user message,
choosing patterns with a random generator seeded by a hash of the model name and the whole
conversation. The same conversation and model therefore always give the same reply, which is
what tests need; ``temperature`` and ``top_p`` are accepted and ignored. Nothing is understood,
looked up or reasoned about.

Tokens are the pieces of `tokenize()`: a run of word characters or of punctuation, with the
whitespace before it attached ("Hello", ",", " world", "."). Joining the tokens gives the text
back exactly, so a streamed reply concatenates to the non-streamed one.
"""

from __future__ import annotations

import hashlib
import json
import random
import re
from collections.abc import Sequence
from dataclasses import dataclass

_TOKEN = re.compile(r"\s*(?:\w+(?:'\w+)*|[^\w\s]+)|\s+")
_WORD = re.compile(r"\w+(?:'\w+)*")
# fmt: off
_STOPWORDS = frozenset((
    "about", "after", "again", "also", "because", "been", "before", "being", "could", "does",
    "doing", "from", "have", "having", "here", "into", "just", "like", "more", "most", "much",
    "only", "other", "over", "same", "some", "such", "than", "that", "their", "them", "then",
    "there", "these", "they", "this", "those", "through", "very", "what", "when", "where",
    "which", "while", "will", "with", "would", "your", "yours", "please", "tell", "know", "want",
))
# fmt: on
_SNIPPET_CHARS = 60

_OPENINGS = (
    'You asked: "{snippet}".',
    'Here is a reply to "{snippet}".',
    "Thanks for your message about {topic}.",
    "Let us talk about {topic}.",
)
_MIDDLES = (
    "This answer comes from the Aerostack emulator's local generator, not from a language model.",
    "It gives the same words for the same conversation, which keeps tests predictable.",
    "{Topic} is worth a closer look, and a real model would say much more about it.",
    "The conversation so far has {count} message{plural}.",
    "A hosted model would weigh {topic} against the rest of the context.",
    "Streaming sends these words one token at a time, at a pace you can configure.",
    "Nothing here was looked up or reasoned about; it is a fixed pattern filled with your words.",
    "Point the emulator at a real model with --ai-upstream when you need real answers.",
)
_CLOSINGS = (
    "That is all for now.",
    "Ask again and you will get the same answer.",
    "I hope this helps with {topic}.",
    "Good luck with {topic}!",
)


@dataclass(frozen=True)
class Message:
    """One chat message after defaults are applied (role ``user``, content ``""``)."""

    role: str
    content: str


def tokenize(text: str) -> list[str]:
    """Split ``text`` into tokens whose concatenation is ``text``."""
    return _TOKEN.findall(text)


def count_tokens(messages: Sequence[Message]) -> int:
    """The prompt size in tokens: the tokens of every message's content."""
    return sum(len(tokenize(message.content)) for message in messages)


def _topic(text: str) -> str:
    words: list[str] = []
    for word in _WORD.findall(text):
        lowered = word.lower()
        if len(word) >= 4 and lowered not in _STOPWORDS and lowered not in words:
            words.append(lowered)
        if len(words) == 3:
            break
    if not words:
        return "this"
    if len(words) == 1:
        return words[0]
    return ", ".join(words[:-1]) + " and " + words[-1]


def _snippet(text: str) -> str:
    flat = " ".join(text.split())
    if len(flat) > _SNIPPET_CHARS:
        flat = flat[:_SNIPPET_CHARS].rstrip() + "…"
    return flat or "(an empty message)"


def reply(messages: Sequence[Message], model: str) -> str:
    """The reply to ``messages``: a few sentences, the same every time for the same input."""
    material = json.dumps([model, [[m.role, m.content] for m in messages]], ensure_ascii=False)
    seed = int.from_bytes(hashlib.sha256(material.encode("utf-8")).digest()[:8], "big")
    rng = random.Random(seed)
    last_user = next((m.content for m in reversed(messages) if m.role == "user"), "")
    topic = _topic(last_user)
    slots = {
        "snippet": _snippet(last_user),
        "topic": topic,
        "Topic": topic[:1].upper() + topic[1:],
        "count": str(len(messages)),
        "plural": "" if len(messages) == 1 else "s",
    }
    sentences = [rng.choice(_OPENINGS)]
    sentences += rng.sample(_MIDDLES, rng.randint(2, 3))
    sentences.append(rng.choice(_CLOSINGS))
    return " ".join(sentence.format_map(slots) for sentence in sentences)
