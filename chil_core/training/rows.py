"""One prompt row and the gold data that goes with it to the frameworks; no torch here (the TRL adapter
and the trainer's data loader share it)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

GOLD_FIELDS = ("answer",)


@dataclass
class PromptRow:
    """One prompt and the gold data that goes with it to the frameworks."""

    id: str
    prompt: str
    reference: dict[str, Any] | None = None
    metadata: dict[str, Any] = field(default_factory=dict)


def _drop_none(value: Any) -> Any:
    """Arrow fills keys missing from some rows' objects with None; remove them again."""
    if isinstance(value, dict):
        return {k: _drop_none(v) for k, v in value.items() if v is not None}
    return value


def prompt_row(row: Mapping[str, Any], index: int, prompt_field: str = "prompt") -> PromptRow:
    """A :class:`PromptRow` from one input row (a dict), with errors that name the row and field."""
    prompt = row.get(prompt_field)
    if not isinstance(prompt, str):
        raise ValueError(f"row {index}: {prompt_field}: expected a string, got {type(prompt).__name__}")
    reference = row.get("reference")
    if reference is not None and not isinstance(reference, dict):
        raise ValueError(f"row {index}: reference: expected an object, got {type(reference).__name__}")
    reference = _drop_none(reference) if reference is not None else None
    gold = {name: row[name] for name in GOLD_FIELDS if row.get(name) is not None}
    if gold:
        reference = {**{k: str(v) for k, v in gold.items()}, **(reference or {})}
    metadata = row.get("metadata") or {}
    if not isinstance(metadata, dict):
        raise ValueError(f"row {index}: metadata: expected an object, got {type(metadata).__name__}")
    rid = row.get("id")
    return PromptRow(str(rid) if rid is not None else str(index), prompt, reference, _drop_none(metadata))
