"""``chil topics``: learn an LDA topic model (``topic_model:lda``) from a JSONL or Parquet corpus."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import click


@click.command("topics")
@click.argument("corpus", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("-o", "--output", type=click.Path(file_okay=False, path_type=Path), required=True,
              help="Directory to write the model to (DIR/topics.lda).")
@click.option("--text-field", default="text", show_default=True)
@click.option("--topics", "num_topics", type=click.IntRange(2, 1000), default=50, show_default=True, help="Number of topics.")
@click.option("--passes", type=click.IntRange(1, 100), default=5, show_default=True, help="Passes over the corpus.")
@click.option("--options", "extra", default="{}", help="Further JSON options of the lda backend (min_count, no_above, vocab, seed).")
def topics_command(corpus: Path, output: Path, text_field: str, num_topics: int, passes: int, extra: str) -> None:
    """Learn NUM topics from every passage of CORPUS (JSONL: one object per line; or .parquet) and write
    DIR/topics.lda, the model `[tools.lda] model` points at.  Bad lines are reported as
    file:line: skipped: <field>: <why> and the rest is learnt from (exit status 1)."""
    from pydantic import ValidationError

    from chil_core.capabilities.vector_index import load_corpus
    from chil_plugin_gensim.topics import LdaTopics

    try:
        options = json.loads(extra)
        if not isinstance(options, dict):
            raise ValueError("must be a JSON object")
        options = LdaTopics.Options.model_validate({**options, "num_topics": num_topics, "passes": passes}).model_dump()
    except (ValueError, ValidationError) as exc:
        raise click.BadParameter(f"{exc}", param_hint="--options") from None
    try:
        _, texts, bad = load_corpus(corpus, text_field, "id", lambda msg: click.echo(msg, err=True))
    except (ValueError, OSError) as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(2)
    t0 = time.perf_counter()
    try:
        trained = LdaTopics.train(texts, output, options)
    except ValueError as exc:
        click.echo(f"error: {corpus}: {exc}", err=True)
        sys.exit(2)
    click.echo(f"{trained['model']}: {num_topics} topics learnt from {len(texts)} passages in "
               f"{time.perf_counter() - t0:.1f} s; {bad} bad lines skipped\n"
               f"use it with:  [tools.lda]  model = \"{trained['model']}\"")
    if bad:
        sys.exit(1)
