"""Reading what a completion says: fenced JSON blocks and numbers (through empirical's exact arithmetic)."""

from __future__ import annotations

import json
import logging
import re
from fractions import Fraction
from typing import Any

from chil_plugin_empirical.answer import read_answer
from chil_plugin_empirical.expr import Limits

from chil_core.capabilities.game import GameError, number

log = logging.getLogger(__name__)

_SIMPLE_RE = re.compile(r"\s*-?\d{1,30}(?:\.\d{1,30})?(?:\s*/\s*\d{1,30})?\s*\Z")
_FENCE_RE = re.compile(r"```[ \t]*([A-Za-z0-9_+-]*)[ \t]*\n(.*?)```", re.S)
MAX_BLOCK_CHARS = 200_000


class ClaimError(ValueError):
    """Something the completion wrote cannot be read as the claim it looks like (names the part)."""


def fenced_blocks(text: str, max_chars: int = MAX_BLOCK_CHARS) -> list[tuple[str, str]]:
    """``(language, body)`` of each closed fenced block, in order; over-long bodies are kept (the caller
    refuses them with a clear verdict)."""
    return [(m.group(1).lower(), m.group(2)) for m in _FENCE_RE.finditer(text[: max_chars * 4])]


def json_objects(text: str, max_chars: int = MAX_BLOCK_CHARS) -> tuple[list[dict[str, Any]], list[str]]:
    """JSON objects from ```json``` (or unlabelled) fenced blocks, and the errors of blocks that failed to
    parse.  A completion that is a JSON object as a whole counts as one block."""
    out, errors = [], []
    blocks = [b for lang, b in fenced_blocks(text, max_chars) if lang in ("json", "")]
    if not blocks and text.strip().startswith("{"):
        blocks = [text.strip()]
    for body in blocks:
        if len(body) > max_chars:
            errors.append(f"JSON block of {len(body)} characters exceeds the limit of {max_chars}")
            continue
        try:
            value = json.loads(body, parse_constant=_reject_constant)
        except (ValueError, RecursionError) as exc:
            errors.append(f"JSON block does not parse: {str(exc)[:120]}")
            continue
        if isinstance(value, dict):
            out.append(value)
        else:
            errors.append("JSON block is not an object")
    return out, errors


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a number")


def value(raw: Any, where: str, limits: Limits) -> Fraction:
    """An exact number from a claim: a JSON number, or text read by empirical's exact arithmetic
    (``"2/5"``, ``"1 1/2"``, ``"$1,200"``, ``"0.5*10 + 0.5*2"``)."""
    if isinstance(raw, bool) or raw is None:
        raise ClaimError(f"{where} must be a number")
    if isinstance(raw, int):
        if raw.bit_length() > limits.max_bits:
            raise ClaimError(f"{where} exceeds {limits.max_bits} bits")
        return Fraction(raw)
    if isinstance(raw, float):
        if raw != raw or raw in (float("inf"), float("-inf")):
            raise ClaimError(f"{where} must be finite")
        return Fraction(repr(raw))  # as written in decimal, not its binary expansion
    if isinstance(raw, str):
        if len(raw) > 200:
            raise ClaimError(f"{where} is longer than 200 characters")
        if _SIMPLE_RE.match(raw) and len(raw) <= limits.max_digits:  # "2/5", "-3", "0.25": the common case, cached
            try:
                return number(raw, where)
            except GameError as exc:
                raise ClaimError(str(exc)) from None
        ans = read_answer(raw, "claim", limits)
        if ans.value is None:
            raise ClaimError(f"{where}: {raw[:40]!r} is not a number" + (f" ({ans.problem})" if ans.problem else ""))
        return ans.value
    raise ClaimError(f"{where} must be a number, got {type(raw).__name__}")


def merged(objects: list[dict[str, Any]]) -> dict[str, Any]:
    """Later blocks override earlier ones key by key (a completion may correct itself)."""
    out: dict[str, Any] = {}
    for obj in objects:
        out.update(obj)
    return out
