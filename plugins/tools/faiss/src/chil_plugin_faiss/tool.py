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


def embedding_options_of(embedder: Any, out: Path) -> dict[str, Any]:
    """The embedder's options as ``meta.json`` records them: a ``model`` inside the index directory relative to it."""
    opts = embedder.options.model_dump(mode="json")
    model = opts.get("model")
    if isinstance(model, str):
        try:
            opts["model"] = str(Path(model).resolve().relative_to(out.resolve()))
        except ValueError:  # a model outside the index: keep its path as given
            pass
    return opts


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
            "embedding": {"backend": embedder.name, "options": embedding_options_of(embedder, out)}}
    (out / "meta.json").write_text(json.dumps(meta, indent=1), encoding="utf-8")
    return meta


EMBEDDING_DIR = "embedding"


def trainable(backend: str) -> bool:
    """Whether the embedding backend learns its vectors from the corpus (``trainable`` and ``train``)."""
    from chil_core.plugins import get_registry

    reg = get_registry()
    if backend not in reg.backends("embedding"):
        return False
    return bool(getattr(reg.tool("embedding", backend), "trainable", False))


def train_embedding(backend: str, texts: list[str], out: str | Path, options: dict[str, Any]) -> dict[str, Any]:
    """Train ``backend`` on the corpus ``texts``, saved under ``out/embedding/``; returns its options with
    ``model`` set (``build`` records it relative to the index directory, so the directory can be moved).
    ``ValueError`` says why not."""
    from chil_core.plugins import get_registry

    reg = get_registry()
    cls = reg.tool("embedding", backend)
    reason = reg.unavailable_reason(cls)
    if reason:
        raise ValueError(f"embedding backend {backend!r} is unavailable: {reason}")
    return cls.train(texts, Path(out) / EMBEDDING_DIR, options)  # type: ignore[attr-defined]


def embedding_options(index_dir: Path, options: dict[str, Any]) -> dict[str, Any]:
    """The embedding options recorded in ``meta.json`` with a relative ``model`` path resolved against the index."""
    opts = dict(options)
    model = opts.get("model")
    if isinstance(model, str) and not Path(model).is_absolute():
        opts["model"] = str(index_dir / model)
    return opts


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
        self.embedder = start_embedder(meta["embedding"]["backend"], embedding_options(path, meta["embedding"].get("options", {})))
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
