"""The input record: one prompt and one completion to judge."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class Record(BaseModel):
    """One completion to score.

    ``group`` ties the G completions of one prompt together (GRPO); ``reference`` carries gold data
    (``{"answer": "72"}``); ``metadata`` carries structured side inputs such as ``triples`` or
    ``premises_fol``.  Unknown top-level fields are kept (``extra="allow"``) so that ``chil score``
    writes back every field it read.
    """

    model_config = ConfigDict(extra="allow", frozen=False)

    id: str = Field(min_length=1, description="Unique id of the record within a run.")
    prompt: str = Field(description="The prompt (and its premises / context).")
    completion: str = Field(description="The model output to judge. Hostile input: never executed.")
    group: str | None = Field(default=None, description="Id shared by the completions of one prompt.")
    reference: dict[str, Any] | None = Field(default=None, description="Gold data, e.g. {'answer': '72'}.")
    metadata: dict[str, Any] = Field(default_factory=dict, description="Structured side inputs.")
