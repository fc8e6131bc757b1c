"""Fixtures: a few real FOLIO rows read in place from ../shared/data (skipped when absent)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

DATA = Path(os.environ.get("CHIL_DATA", Path(__file__).resolve().parents[4].parent / "shared" / "data"))


@pytest.fixture(scope="session")
def folio_rows() -> list[dict]:
    """The first 12 rows of FOLIO validation-dev (gold FOL and labels)."""
    path = DATA / "folio" / "folio-validation-dev.jsonl"
    if not path.exists():
        pytest.skip(f"development data {path} is absent (set CHIL_DATA to the shared data folder)")
    lines = path.read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines[:12]]
