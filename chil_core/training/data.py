"""Prompts from JSONL or Parquet, read with pyarrow (Parquet memory-mapped), in a seeded order.

A row needs a ``prompt`` string.  Optional: ``id``; ``reference`` (an object of gold data, e.g.
``{"answer": "72"}``) or a top-level ``answer`` that becomes ``reference.answer``; ``metadata`` (an
object).  The reference and metadata travel with every completion to the frameworks.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import torch
from torch import Tensor

# the row format, torch-free (the TRL adapter uses it without the trainer's imports)
from chil_core.training.rows import GOLD_FIELDS, PromptRow, _drop_none, prompt_row  # noqa: F401


class PromptDataset:
    """Rows of a ``.jsonl`` / ``.json`` (one object per line) or ``.parquet`` file."""

    def __init__(self, path: str | Path, prompt_field: str = "prompt") -> None:
        import pyarrow as pa

        self.path = Path(path)
        self.prompt_field = prompt_field
        suffix = self.path.suffix.lower()
        if not self.path.is_file():
            raise FileNotFoundError(f"data: no such file: {self.path}")
        try:
            if suffix in (".parquet", ".pq"):
                import pyarrow.parquet as pq

                self.table = pq.read_table(self.path, memory_map=True)
            elif suffix in (".jsonl", ".json", ".ndjson"):
                import pyarrow.json as pj

                try:
                    self.table = pj.read_json(self.path)
                except pa.ArrowInvalid as exc:
                    if "changed from" not in str(exc):  # a column of mixed types ([["1/5", 10]]): kept as JSON
                        raise
                    self.table = self._mixed_jsonl()
            else:
                raise ValueError(f"data: {self.path.name}: expected a .jsonl or .parquet file")
        except pa.ArrowInvalid as exc:
            raise ValueError(f"data: cannot read {self.path}: {exc}") from None
        if prompt_field not in self.table.column_names:
            raise ValueError(f"data: {self.path.name} has no {prompt_field!r} column; columns: {self.table.column_names}")
        if not pa.types.is_string(self.table.schema.field(prompt_field).type) and not pa.types.is_large_string(
            self.table.schema.field(prompt_field).type
        ):
            raise ValueError(f"data: {prompt_field}: expected strings, got {self.table.schema.field(prompt_field).type}")
        if self.table.num_rows == 0:
            raise ValueError(f"data: {self.path} has no rows")

    #: columns held as JSON text (objects and lists of a file whose values Arrow cannot type: a list
    #: mixing strings and numbers), decoded again row by row
    _json_columns: frozenset[str] = frozenset()

    def _mixed_jsonl(self):
        """The file read line by line: objects and lists stored as JSON text (exact, whatever they mix)."""
        import json

        import pyarrow as pa

        rows, json_columns = [], set()
        with open(self.path, encoding="utf-8") as fh:
            for lineno, line in enumerate(fh, 1):
                if not line.strip():
                    continue
                try:
                    row = json.loads(line)
                except ValueError as exc:
                    raise ValueError(f"data: {self.path.name}:{lineno}: not JSON: {exc}") from None
                if not isinstance(row, dict):
                    raise ValueError(f"data: {self.path.name}:{lineno}: expected an object")
                for key, value in row.items():
                    if isinstance(value, dict | list):
                        row[key] = json.dumps(value)
                        json_columns.add(key)
                rows.append(row)
        self._json_columns = frozenset(json_columns)
        return pa.Table.from_pylist(rows)

    def _decoded(self, rows: list[dict]) -> list[dict]:
        if not self._json_columns:
            return rows
        import json

        for row in rows:
            for key in self._json_columns:
                if isinstance(row.get(key), str):
                    row[key] = json.loads(row[key])
        return rows

    def __len__(self) -> int:
        return self.table.num_rows

    def rows(self, indices: Sequence[int]) -> list[PromptRow]:
        """The rows at ``indices`` (one Arrow ``take``, converted to Python once)."""
        taken = self._decoded(self.table.take(list(indices)).to_pylist())
        return [prompt_row(r, i, self.prompt_field) for r, i in zip(taken, indices, strict=True)]

    def all_rows(self) -> list[PromptRow]:
        return [prompt_row(r, i, self.prompt_field) for i, r in enumerate(self._decoded(self.table.to_pylist()))]


class PromptOrder:
    """Shuffled epochs over ``size`` rows; the state (epoch, position) resumes the same sequence."""

    def __init__(self, size: int, seed: int = 0, shuffle: bool = True) -> None:
        self.size, self.seed, self.shuffle = size, seed, shuffle
        self.epoch, self.position = 0, 0
        self._perm = self._permutation()

    def _permutation(self) -> Tensor:
        if not self.shuffle:
            return torch.arange(self.size)
        return torch.randperm(self.size, generator=torch.Generator().manual_seed(self.seed * 100_003 + self.epoch))

    def take(self, k: int) -> list[int]:
        out: list[int] = []
        while len(out) < k:
            if self.position == self.size:
                self.epoch, self.position = self.epoch + 1, 0
                self._perm = self._permutation()
            step = min(k - len(out), self.size - self.position)
            out.extend(self._perm[self.position:self.position + step].tolist())
            self.position += step
        return out

    def state_dict(self) -> dict[str, int]:
        return {"epoch": self.epoch, "position": self.position}

    def load_state_dict(self, state: Mapping[str, int]) -> None:
        self.epoch, self.position = int(state["epoch"]), int(state["position"])
        self._perm = self._permutation()


def encode_prompts(tokenizer, prompts: Sequence[str], max_length: int) -> tuple[Tensor, Tensor]:
    """Tokenize a batch at once: left-padded ids and mask, long prompts cut from the left."""
    tokenizer.truncation_side = "left"
    enc = tokenizer(list(prompts), padding=True, padding_side="left", truncation=True, max_length=max_length,
                    return_tensors="pt")
    ids, mask = enc["input_ids"], enc["attention_mask"]
    if ids.shape[1] > max_length:  # tokenizers without truncation support
        ids, mask = ids[:, -max_length:], mask[:, -max_length:]
    return ids, mask
