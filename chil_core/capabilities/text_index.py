"""The ``text_index`` capability: an index of the claims made earlier in a run, grouped by episode, so a
framework can find the earlier claims a new one may contradict.  Its backends (SQLite FTS5 today) share
the payload validation below; only the storage and ranking are theirs.

Ops::

    add    {"episode": str, "record": str, "claims": [{"kind": str, "text": str, "data": any, "terms": [str]}]}
           → {"added": n}            # a claim already stored for that record is not stored twice
    search {"episode": str, "terms": [str], "text": str?, "kind": str?, "exclude_record": str?, "limit": int?}
           → {"hits": [{"record", "kind", "text", "data", "terms", "rank"}]}
             # claims of the episode sharing a term (exact symbol match) or, with text, a word; best first
    clear  {"episode": str} → {"removed": n}

Terms (symbols such as predicate and constant names) match exactly, whatever characters they hold; no
query syntax can be injected through a term or a word.  Answers depend on what was added before, so a
backend of this capability is not cacheable.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

MAX_TEXT = 4_000
MAX_TERMS = 64
MAX_CLAIMS = 1_000
MAX_NAME = 500
MAX_LIMIT = 500
DEFAULT_LIMIT = 20
OPS = frozenset({"add", "search", "clear"})
WORDS = re.compile(r"\w+")


class TextIndexPayloadError(ValueError):
    """A malformed payload; the message names the field."""


@dataclass(frozen=True, slots=True)
class StoredClaim:
    kind: str
    text: str
    data_json: str  # canonical JSON of ``data`` (sorted keys): the claim's identity with kind
    terms: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class AddRequest:
    episode: str
    record: str
    claims: tuple[StoredClaim, ...]


@dataclass(frozen=True, slots=True)
class SearchRequest:
    episode: str
    terms: tuple[str, ...]
    words: tuple[str, ...]  # distinct words of ``text``, at most MAX_TERMS
    kind: str | None
    exclude_record: str | None
    limit: int


def _string(payload: dict[str, Any], key: str, limit: int = MAX_NAME, *, required: bool = True) -> str | None:
    value = payload.get(key)
    if value is None and not required:
        return None
    if not isinstance(value, str) or not value or len(value) > limit:
        raise TextIndexPayloadError(f"payload.{key} must be a non-empty string of at most {limit} characters")
    return value


def _terms(value: Any, where: str) -> tuple[str, ...]:
    if not isinstance(value, list) or len(value) > MAX_TERMS or not all(isinstance(t, str) and t for t in value):
        raise TextIndexPayloadError(f"{where} must be a list of at most {MAX_TERMS} non-empty strings")
    return tuple(value)


def _payload(payload: Any) -> dict[str, Any]:
    if not isinstance(payload, dict):
        raise TextIndexPayloadError("payload must be an object")
    return payload


def parse_add(payload: Any) -> AddRequest:
    payload = _payload(payload)
    episode, record = _string(payload, "episode"), _string(payload, "record")
    claims = payload.get("claims")
    if not isinstance(claims, list) or len(claims) > MAX_CLAIMS:
        raise TextIndexPayloadError(f"payload.claims must be a list of at most {MAX_CLAIMS} claims")
    out = []
    for i, c in enumerate(claims):
        where = f"payload.claims[{i}]"
        if not isinstance(c, dict):
            raise TextIndexPayloadError(f"{where} must be an object {{kind, text, data, terms}}")
        kind, text = c.get("kind"), c.get("text")
        if not isinstance(kind, str) or not kind or not isinstance(text, str) or len(text) > MAX_TEXT:
            raise TextIndexPayloadError(f"{where}.kind and .text must be strings (text at most {MAX_TEXT} characters)")
        terms = _terms(c.get("terms", []), f"{where}.terms")
        try:
            data = json.dumps(c.get("data"), sort_keys=True, separators=(",", ":"))
        except (TypeError, ValueError):
            raise TextIndexPayloadError(f"{where}.data must be JSON-serialisable") from None
        out.append(StoredClaim(kind, text, data, terms))
    return AddRequest(episode, record, tuple(out))  # type: ignore[arg-type]


def parse_search(payload: Any) -> SearchRequest:
    payload = _payload(payload)
    episode = _string(payload, "episode")
    terms = _terms(payload.get("terms", []), "payload.terms")
    text = _string(payload, "text", MAX_TEXT, required=False)
    kind = _string(payload, "kind", required=False)
    exclude = _string(payload, "exclude_record", required=False)
    limit = payload.get("limit", DEFAULT_LIMIT)
    if not isinstance(limit, int) or isinstance(limit, bool) or not 1 <= limit <= MAX_LIMIT:
        raise TextIndexPayloadError(f"payload.limit must be an integer from 1 to {MAX_LIMIT}")
    words = tuple(dict.fromkeys(WORDS.findall(text or "")))[:MAX_TERMS]
    return SearchRequest(episode, terms, words, kind, exclude, limit)  # type: ignore[arg-type]


def parse_clear(payload: Any) -> str:
    """The episode to clear."""
    return _string(_payload(payload), "episode")  # type: ignore[return-value]
