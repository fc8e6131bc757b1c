"""Shared fixtures: the development data (read in place from ../shared/data) and real backends."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

DATA = Path(os.environ.get("CHIL_DATA", Path(__file__).resolve().parents[4].parent / "shared" / "data"))


def _need(rel: str) -> Path:
    path = DATA / rel
    if not path.exists():
        pytest.skip(f"development data {path} is absent (set CHIL_DATA to the shared data folder)")
    return path


@pytest.fixture(scope="session")
def folio_dev() -> list[dict]:
    path = _need("folio/folio-validation-dev.jsonl")
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


@pytest.fixture(scope="session")
def folio_train() -> list[dict]:
    path = _need("folio/folio-train.jsonl")
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


@pytest.fixture(scope="session")
def proofwriter() -> list[dict]:
    return json.loads(_need("proofwriter/dev.json").read_text(encoding="utf-8"))


@pytest.fixture(scope="session")
def prontoqa() -> list[dict]:
    return json.loads(_need("prontoqa/dev-half.json").read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def backends():
    """One started instance of each logic_program backend (the prolog one in this process)."""
    from chil_plugin_clingo.clingo_tool import ClingoLogic
    from chil_plugin_prolog.tool import PrologLogic
    from chil_plugin_z3.logic import Z3Logic

    tools = {"z3": Z3Logic(), "prolog": PrologLogic(), "clingo": ClingoLogic()}
    for tool in tools.values():
        tool.start()
    yield tools
    for tool in tools.values():
        tool.close()


@pytest.fixture(scope="module")
def smt():
    from chil_plugin_z3.smt import Z3Smt

    tool = Z3Smt()
    tool.start()
    yield tool
    tool.close()
