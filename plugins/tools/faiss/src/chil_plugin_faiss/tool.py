"""``vector_index:faiss``: FAISS inner-product search over unit sentence vectors.

``build`` writes an index directory (see :mod:`chil_core.capabilities.vector_index`): ``flat`` (exact),
``ivf`` (inverted lists, ``nlist`` cells, ``nprobe`` searched) or ``hnsw`` (graph, ``m`` links).  At run
time the FAISS file is memory-mapped (``IO_FLAG_MMAP``: flat and IVF; HNSW is read into memory), the
passages too, and a batch of queries is one ``search``.
"""

from __future__ import annotations

import json
import logging
import threading
from pathlib import Path
from typing import Any, ClassVar, Literal

from pydantic import Field

from chil_core.capabilities.embedding import start_embedder
from chil_core.capabilities.vector_index import (
    FORMAT,
    VERSION,
    Passages,
    VectorIndexOptions,
    VectorIndexTool,
    read_meta,
    write_texts,
)

log = logging.getLogger(__name__)
Kind = Literal["flat", "ivf", "hnsw"]


class FaissOptions(VectorIndexOptions):
    """``[tools.faiss]``."""

    nprobe: int = Field(default=8, ge=1, le=65536, description="IVF: cells searched per query.")
    ef_search: int = Field(default=64, ge=1, le=65536, description="HNSW: candidate list size per query.")


def build(out: str | Path, ids: list[str], texts: list[str], embedder: Any, kind: Kind = "flat", nlist: int = 0,
          m: int = 32, batch: int = 2048) -> dict[str, Any]:
    """Embed ``texts`` with ``embedder`` and write an index directory at ``out``; returns its meta."""
    import faiss
    import numpy as np

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    dim = embedder.dim
    rows = np.zeros((len(texts), dim), dtype=np.float32)
    for i in range(0, len(texts), batch):
        rows[i : i + batch] = embedder.encode_normalized(texts[i : i + batch])[0]
    if kind == "flat":
        index = faiss.IndexFlatIP(dim)
    elif kind == "ivf":
        nlist = nlist or max(1, min(4096, int(len(texts) ** 0.5)))
        index = faiss.IndexIVFFlat(faiss.IndexFlatIP(dim), dim, nlist, faiss.METRIC_INNER_PRODUCT)
        index.train(rows)
    else:
        index = faiss.IndexHNSWFlat(dim, m, faiss.METRIC_INNER_PRODUCT)
    if len(rows):
        index.add(rows)
    faiss.write_index(index, str(out / "index.faiss"))
    write_texts(out, ids, texts)
    meta = {"format": FORMAT, "version": VERSION, "backend": "faiss", "kind": kind, "dim": dim, "count": len(texts),
            "nlist": nlist if kind == "ivf" else None, "m": m if kind == "hnsw" else None,
            "embedding": {"backend": embedder.name, "options": embedder.options.model_dump(mode="json")}}
    (out / "meta.json").write_text(json.dumps(meta, indent=1), encoding="utf-8")
    return meta


class FaissIndex(VectorIndexTool):
    name: ClassVar[str] = "faiss"
    version: ClassVar[str] = "0.1.0"
    description: ClassVar[str] = "FAISS k-NN over sentence vectors (flat / IVF / HNSW), memory-mapped"
    Options: ClassVar[type[FaissOptions]] = FaissOptions  # type: ignore[assignment]
    priority: ClassVar[int] = 10
    requires_modules: ClassVar[dict[str, str]] = {"faiss": "faiss-cpu", "numpy": "numpy"}
    options: FaissOptions

    _lock = threading.Lock()

    def start(self) -> None:
        import faiss

        if self.options.path is None:
            raise ValueError("tools.faiss.path: no index configured (build one with `chil index`)")
        path = Path(self.options.path)
        meta = read_meta(path)
        if meta["backend"] != "faiss":
            raise ValueError(f"tools.faiss.path: {path} was built by {meta['backend']!r}, not faiss")
        flags = faiss.IO_FLAG_MMAP if meta.get("kind") in ("flat", "ivf") else 0
        self.index = faiss.read_index(str(path / "index.faiss"), flags)
        if self.index.d != meta["dim"] or self.index.ntotal != meta["count"]:
            raise ValueError(f"tools.faiss.path: {path}/index.faiss does not match meta.json (dim {self.index.d}, {self.index.ntotal} vectors)")
        if meta.get("kind") == "ivf":
            self.index.nprobe = self.options.nprobe
        elif meta.get("kind") == "hnsw":
            self.index.hnsw.efSearch = self.options.ef_search
        self.passages = Passages(path)
        self.embedder = start_embedder(meta["embedding"]["backend"], meta["embedding"].get("options", {}))
        if self.embedder.dim != meta["dim"]:
            raise ValueError(f"tools.faiss.path: index dim {meta['dim']} != embedding dim {self.embedder.dim}")
        log.debug("faiss: %s (%s, %d passages) loaded", path, meta.get("kind"), meta["count"])

    def knn(self, rows: Any, k: int) -> tuple[Any, Any]:
        import numpy as np

        k = min(k, max(1, self.index.ntotal))
        with self._lock:  # one search at a time per index: FAISS parallelises inside
            return self.index.search(np.ascontiguousarray(rows, dtype=np.float32), k)

    def close(self) -> None:
        self.index = None
