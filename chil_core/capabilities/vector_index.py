"""The ``vector_index`` capability: k nearest passages of a corpus, and what its backends (FAISS…) share.

One op, ``search``::

    payload = {"queries": ["who won the 2018 world cup?", ...], "k": 3}
    value   = {"hits": [[{"id": "doc-17", "text": "...", "score": 0.83}, ...], ...]}   # one list per query,
                                                                                       # best first

``score`` is the cosine of the query's and the passage's sentence vectors (unit vectors, inner product).
Queries are embedded by the embedding backend the index was built with (recorded in the index), a whole
batch of calls in one ``encode`` and one k-NN search.  ``k`` is 1..:data:`MAX_K`; an empty query gets
no hits.

An index is a directory written by ``chil index`` (:func:`write_index`)::

    meta.json        {"format": "chil-vector-index", "version": 1, "embedding": {"backend", "options"},
                      "dim", "count", "kind", "backend"}
    index.<backend>  the backend's own file (FAISS: memory-mapped at load)
    texts.bin        every passage, UTF-8, concatenated (memory-mapped)
    offsets.npy      int64 [count + 1] byte offsets into texts.bin
    ids.json         the passage ids, in order

:func:`read_corpus` reads the JSONL / Parquet corpus for the build and reports each bad line as
``file:line: skipped: <field>: <why>`` without stopping.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field, field_validator

from chil_core import Tool, ToolCall, ToolResult

FORMAT = "chil-vector-index"
VERSION = 1
MAX_K = 100
MAX_QUERIES = 1024
MAX_QUERY_CHARS = 4000
MAX_PASSAGE_CHARS = 100_000


class VectorIndexOptions(BaseModel):
    """Options every vector-index backend accepts (``[tools.<backend>]``)."""

    model_config = ConfigDict(extra="forbid")

    path: str | None = Field(default=None, description="Index directory written by `chil index` (required to start).")
    max_text_chars: int = Field(default=2000, ge=0, le=MAX_PASSAGE_CHARS, description="Passage text returned per hit is cut to this.")

    @field_validator("path")
    @classmethod
    def _exists(cls, v: str | None) -> str | None:
        if v is not None:
            read_meta(v)
        return v


def read_meta(path: str | Path) -> dict[str, Any]:
    p = Path(path)
    meta_path = p / "meta.json"
    if not meta_path.is_file():
        raise ValueError(f"{str(p)!r} is not an index directory (no meta.json; build one with `chil index`)")
    try:
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ValueError(f"{meta_path}: not JSON: {exc}") from exc
    if not isinstance(meta, dict) or meta.get("format") != FORMAT or meta.get("version") != VERSION:
        raise ValueError(f"{meta_path}: format must be {FORMAT!r} version {VERSION}")
    for key, typ in (("dim", int), ("count", int), ("embedding", dict), ("backend", str)):
        if not isinstance(meta.get(key), typ):
            raise ValueError(f"{meta_path}: {key} must be a {typ.__name__}")
    for name in ("texts.bin", "offsets.npy", "ids.json"):
        if not (p / name).is_file():
            raise ValueError(f"{str(p)!r}: {name} is missing")
    return meta


def read_corpus(path: str | Path, text_field: str = "text", id_field: str = "id") -> Iterator[tuple[str, str] | str]:
    """``(id, text)`` per good row of a JSONL or Parquet corpus, or a ``file:line: skipped: …`` message per
    bad one (the caller reports it and goes on).  Rows without an id get ``"<line>"``."""
    p = Path(path)
    if p.suffix.lower() in (".parquet", ".pq"):
        import pyarrow.parquet as pq

        table = pq.read_table(p)
        if text_field not in table.column_names:
            raise ValueError(f"{p}: no column {text_field!r}; columns: {table.column_names}")
        texts = table.column(text_field).to_pylist()
        ids = table.column(id_field).to_pylist() if id_field in table.column_names else [None] * len(texts)
        for n, (i, t) in enumerate(zip(ids, texts, strict=True), 1):
            yield _row(p, n, i, t, text_field)
        return
    with open(p, encoding="utf-8", errors="replace") as fh:
        for n, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                obj = json.loads(line)
            except json.JSONDecodeError as exc:
                yield f"{p}:{n}: skipped: line: not JSON ({exc.msg})"
                continue
            if not isinstance(obj, dict):
                yield f"{p}:{n}: skipped: line: must be a JSON object"
                continue
            yield _row(p, n, obj.get(id_field), obj.get(text_field), text_field)


def load_corpus(path: str | Path, text_field: str, id_field: str,
                report: Callable[[str], None]) -> tuple[list[str], list[str], int]:
    """``(ids, texts, bad)`` of a corpus read by :func:`read_corpus`; each bad line's message goes to
    ``report`` and is counted in ``bad``.  ``ValueError`` / ``OSError`` when the file cannot be read."""
    ids: list[str] = []
    texts: list[str] = []
    bad = 0
    for row in read_corpus(path, text_field, id_field):
        if isinstance(row, str):
            bad += 1
            report(row)
        else:
            ids.append(row[0])
            texts.append(row[1])
    return ids, texts, bad


def _row(p: Path, n: int, rid: Any, text: Any, text_field: str) -> tuple[str, str] | str:
    if not isinstance(text, str) or not text.strip():
        return f"{p}:{n}: skipped: {text_field}: must be a non-empty string"
    if len(text) > MAX_PASSAGE_CHARS:
        return f"{p}:{n}: skipped: {text_field}: longer than {MAX_PASSAGE_CHARS} characters"
    return (str(rid) if rid is not None else str(n)), text


def write_texts(out: Path, ids: list[str], texts: list[str]) -> None:
    import numpy as np

    blobs = [t.encode("utf-8") for t in texts]
    offsets = np.zeros(len(blobs) + 1, dtype=np.int64)
    np.cumsum([len(b) for b in blobs], out=offsets[1:])
    (out / "texts.bin").write_bytes(b"".join(blobs))
    np.save(out / "offsets.npy", offsets)
    (out / "ids.json").write_text(json.dumps(ids), encoding="utf-8")


class Passages:
    """The passages of an index, memory-mapped: only the hits are read."""

    def __init__(self, path: Path) -> None:
        import numpy as np

        self.offsets = np.load(path / "offsets.npy", mmap_mode="r")
        size = (path / "texts.bin").stat().st_size
        self.blob = np.memmap(path / "texts.bin", dtype=np.uint8, mode="r") if size else np.zeros(0, dtype=np.uint8)
        self.ids = json.loads((path / "ids.json").read_text(encoding="utf-8"))

    def text(self, i: int) -> str:
        a, b = int(self.offsets[i]), int(self.offsets[i + 1])
        return bytes(self.blob[a:b]).decode("utf-8", errors="replace")


def parse_call(call: ToolCall) -> tuple[list[str], int]:
    if call.op != "search":
        raise ValueError(f"vector_index has no op {call.op!r}; ops: search")
    queries = call.payload.get("queries")
    if not isinstance(queries, list) or not all(isinstance(q, str) for q in queries):
        raise ValueError("payload.queries: must be a list of strings")
    if len(queries) > MAX_QUERIES:
        raise ValueError(f"payload.queries: at most {MAX_QUERIES}, got {len(queries)}")
    k = call.payload.get("k", 5)
    if not isinstance(k, int) or isinstance(k, bool) or not 1 <= k <= MAX_K:
        raise ValueError(f"payload.k: must be an integer in 1..{MAX_K}, got {k!r}")
    return [q[:MAX_QUERY_CHARS] for q in queries], k


class VectorIndexTool(Tool):
    """Base of the vector-index backends: validation, one embed + one k-NN search per batch, answers.

    Subclasses load their index in ``start`` (setting ``self.passages`` and ``self.embedder``) and
    implement :meth:`knn` (unit query rows → (scores, indices), -1 for no hit)."""

    capability: ClassVar[str] = "vector_index"
    ops: ClassVar[frozenset[str]] = frozenset({"search"})
    Options: ClassVar[type[BaseModel]] = VectorIndexOptions
    options: VectorIndexOptions
    passages: Passages
    embedder: Any

    def knn(self, rows: Any, k: int) -> tuple[Any, Any]:
        raise NotImplementedError

    def run_batch(self, calls: list[ToolCall]) -> list[ToolResult | Any]:
        parsed: list[tuple[list[str], int] | ToolResult] = []
        for call in calls:
            try:
                parsed.append(parse_call(call))
            except ValueError as exc:
                parsed.append(ToolResult.failure(str(exc)))
        queries = list(dict.fromkeys(q for p in parsed if not isinstance(p, ToolResult) for q in p[0]))
        k_max = max((p[1] for p in parsed if not isinstance(p, ToolResult)), default=1)
        found: dict[str, list[tuple[int, float]]] = {}
        if queries:
            rows, empty, _ = self.embedder.encode_normalized(queries)
            scores, idx = self.knn(rows, k_max)
            for q, e, srow, irow in zip(queries, empty, scores, idx, strict=True):
                found[q] = [] if e else [(int(i), float(s)) for s, i in zip(srow, irow, strict=True) if i >= 0]
        limit = self.options.max_text_chars
        out: list[ToolResult | Any] = []
        for p in parsed:
            if isinstance(p, ToolResult):
                out.append(p)
                continue
            qs, k = p
            out.append({"hits": [[{"id": self.passages.ids[i], "text": self.passages.text(i)[:limit], "score": round(s, 6)}
                                  for i, s in found[q][:k]] for q in qs]})
        return out
