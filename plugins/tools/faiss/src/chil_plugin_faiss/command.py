"""``chil index``: build a vector index from a JSONL or Parquet corpus."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import click


@click.command("index")
@click.argument("corpus", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("-o", "--output", type=click.Path(file_okay=False, path_type=Path), required=True, help="Index directory to write.")
@click.option("--text-field", default="text", show_default=True)
@click.option("--id-field", default="id", show_default=True)
@click.option("--embedding", default="wordllama", show_default=True, help="Embedding backend for passages and queries.")
@click.option("--embedding-options", default="{}", help="JSON options of that backend. A backend trained on the corpus "
              "(gensim) without a 'model' option is trained here first and saved inside the index directory.")
@click.option("--kind", type=click.Choice(["flat", "ivf", "hnsw"]), default="flat", show_default=True)
@click.option("--nlist", type=click.IntRange(0, 1 << 20), default=0, help="IVF cells (0: sqrt of the corpus size).")
@click.option("--m", "m", type=click.IntRange(2, 256), default=32, show_default=True, help="HNSW links per node.")
def index_command(corpus: Path, output: Path, text_field: str, id_field: str, embedding: str, embedding_options: str,
                  kind: str, nlist: int, m: int) -> None:
    """Embed every passage of CORPUS (JSONL: one object per line; or .parquet) and write a FAISS index.
    Bad lines are reported as file:line: skipped: <field>: <why> and the rest is indexed (exit status 1)."""
    from chil_core.capabilities.embedding import start_embedder
    from chil_core.capabilities.vector_index import load_corpus
    from chil_plugin_faiss.tool import build, train_embedding, trainable

    try:
        options = json.loads(embedding_options)
        if not isinstance(options, dict):
            raise ValueError("must be a JSON object")
    except ValueError as exc:
        raise click.BadParameter(f"--embedding-options: {exc}") from None
    try:
        ids, texts, bad = load_corpus(corpus, text_field, id_field, lambda msg: click.echo(msg, err=True))
    except (ValueError, OSError) as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(2)
    if not texts:
        click.echo(f"error: {corpus}: no passage to index", err=True)
        sys.exit(2)
    if kind == "ivf" and nlist > len(texts):
        click.echo(f"error: --nlist {nlist} is larger than the corpus ({len(texts)} passages)", err=True)
        sys.exit(2)
    t0 = time.perf_counter()
    trained = ""
    try:
        if trainable(embedding) and not options.get("model"):
            options = train_embedding(embedding, texts, output, options)
            trained = f"; {embedding} vectors trained on the corpus in {time.perf_counter() - t0:.1f} s"
        embedder = start_embedder(embedding, options)
    except ValueError as exc:
        click.echo(f"error: --embedding: {exc}", err=True)
        sys.exit(2)
    meta = build(output, ids, texts, embedder, kind=kind, nlist=nlist, m=m)  # type: ignore[arg-type]
    click.echo(f"{output}: {meta['count']} passages, {kind}, {meta['dim']} dims ({embedding}) in "
               f"{time.perf_counter() - t0:.1f} s; {bad} bad lines skipped{trained}")
    if bad:
        sys.exit(1)
