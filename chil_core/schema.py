"""JSON Schemas generated from the contracts (``chil schema``), checked in under ``schemas/``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from chil_core.config import Settings
from chil_core.contracts import CONTRACTS_VERSION, FrameworkResult, Record, RecordReward, ToolCall, ToolResult

MODELS: dict[str, Any] = {
    "record": Record,
    "tool_call": ToolCall,
    "tool_result": ToolResult,
    "framework_result": FrameworkResult,
    "record_reward": RecordReward,
    "config": Settings,
}


def render() -> dict[str, str]:
    """File name → JSON text, deterministic."""
    out = {}
    for name, model in MODELS.items():
        if hasattr(model, "model_json_schema"):
            schema = model.model_json_schema(mode="validation")
        else:  # the hot-path dataclass contracts
            from pydantic import TypeAdapter

            schema = TypeAdapter(model).json_schema(mode="validation")
        schema = {
            "$schema": "https://json-schema.org/draft/2020-12/schema",
            "$id": f"https://chil.dev/schemas/{CONTRACTS_VERSION}/{name}.json",
            "x-chil-contracts-version": CONTRACTS_VERSION,
            **schema,
        }
        out[f"{name}.json"] = json.dumps(schema, indent=2, sort_keys=True, ensure_ascii=False) + "\n"
    return out


def write(directory: Path) -> list[Path]:
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for fname, text in render().items():
        path = directory / fname
        tmp = path.with_suffix(".json.tmp")
        tmp.write_text(text, encoding="utf-8")
        tmp.replace(path)
        written.append(path)
    return written


def drift(directory: Path) -> list[str]:
    """Names of schema files that are missing or differ from the contracts."""
    problems = []
    for fname, text in render().items():
        path = directory / fname
        if not path.is_file():
            problems.append(f"{fname}: missing")
        elif path.read_text(encoding="utf-8") != text:
            problems.append(f"{fname}: differs from the contracts (run `chil schema`)")
    return problems
