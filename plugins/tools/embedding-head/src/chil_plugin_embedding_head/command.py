"""``chil fit-sentiment``: fit a sentiment head on labelled text and write it as a JSON file."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import click

_POS = {"1", "pos", "positive", "true", "+", "+1"}
_NEG = {"0", "neg", "negative", "false", "-", "-1"}


def _label(value: Any) -> int:
    if isinstance(value, bool):
        return int(value)
    key = str(value).strip().casefold()
    if key in _POS:
        return 1
    if key in _NEG:
        return 0
    raise ValueError(f"{value!r} is not a binary label (1/0, positive/negative, pos/neg, true/false)")


def _parse(line: str, fmt: str, text_field: str, label_field: str) -> tuple[str, int]:
    """One labelled row; ``ValueError('<field>: <why>')`` otherwise."""
    if fmt == "sst":
        label, _, text = line.strip().partition(" ")
        fields = ("label", "text")
    else:
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            raise ValueError(f"line: not JSON ({exc.msg})") from None
        if not isinstance(row, dict):
            raise ValueError("line: must be a JSON object")
        label, text = row.get(label_field), row.get(text_field)
        fields = (label_field, text_field)
    try:
        y = _label(label)
    except ValueError as exc:
        raise ValueError(f"{fields[0]}: {exc}") from None
    if not isinstance(text, str) or not text.strip():
        raise ValueError(f"{fields[1]}: must be a non-empty string")
    return text, y


def read_labelled(path: Path, fmt: str, text_field: str, label_field: str) -> tuple[list[str], list[int], list[str]]:
    """Texts, labels and one ``file:line: skipped: <field>: <why>`` message per bad line (the others are kept)."""
    texts: list[str] = []
    labels: list[int] = []
    bad: list[str] = []
    with open(path, encoding="utf-8", errors="replace") as fh:
        for n, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                text, y = _parse(line, fmt, text_field, label_field)
            except ValueError as exc:
                bad.append(f"{path}:{n}: skipped: {exc}")
                continue
            texts.append(text)
            labels.append(y)
    return texts, labels, bad


@click.command("fit-sentiment")
@click.argument("data", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), required=True, help="Head file to write (JSON).")
@click.option("--format", "fmt", type=click.Choice(["jsonl", "sst"]), default="jsonl", show_default=True,
              help="jsonl: one object per line; sst: '<0|1> <text>' lines (stsa.binary.*).")
@click.option("--text-field", default="text", show_default=True)
@click.option("--label-field", default="label", show_default=True)
@click.option("--embedding", default="wordllama", show_default=True, help="Embedding backend the head is fitted on.")
@click.option("--embedding-options", default="{}", help="JSON options of that backend, e.g. '{\"dim\": 128}'.")
@click.option("--lexicons", default="vader,afinn,textblob", show_default=True,
              help="Comma-separated sentiment backends whose polarities are extra features ('' for none).")
@click.option("--l2", type=click.FloatRange(min=0.0, min_open=True), default=1.0, show_default=True, help="L2 penalty.")
@click.option("--folds", type=click.IntRange(2, 100), default=10, show_default=True, help="Cross-validation folds reported.")
def fit_sentiment(data: Path, output: Path, fmt: str, text_field: str, label_field: str, embedding: str,
                  embedding_options: str, lexicons: str, l2: float, folds: int) -> None:
    """Fit the embedding-head sentiment backend on labelled DATA; report its cross-validated accuracy."""
    import numpy as np

    from chil_core.capabilities.embedding import start_embedder
    from chil_plugin_embedding_head.head import (
        cross_validate,
        features,
        fit_logistic,
        start_lexicons,
        to_json,
    )

    try:
        options = json.loads(embedding_options)
        if not isinstance(options, dict):
            raise ValueError("must be a JSON object")
    except ValueError as exc:
        raise click.BadParameter(f"--embedding-options: {exc}") from None
    texts, labels, bad = read_labelled(data, fmt, text_field, label_field)
    for msg in bad:
        click.echo(msg, err=True)
    if len(set(labels)) < 2 or len(labels) < folds:
        click.echo(f"error: {data}: need both labels and at least {folds} rows, got {len(labels)} rows", err=True)
        sys.exit(2)
    try:
        tool = start_embedder(embedding, options)
    except ValueError as exc:
        click.echo(f"error: --embedding: {exc}", err=True)
        sys.exit(2)
    names = [n.strip() for n in lexicons.split(",") if n.strip()]
    try:
        lex = start_lexicons(names)
    except ValueError as exc:
        click.echo(f"error: --lexicons: {exc}", err=True)
        sys.exit(2)
    x, _ = features(tool, lex, texts)
    y = np.asarray(labels)
    acc, _ = cross_validate(x, y, l2, folds, light=len(lex))
    w, b = fit_logistic(x, y, l2, light=len(lex))
    head = to_json(w, b, embedding={"backend": embedding, "options": tool.options.model_dump(mode="json")}, l2=l2,
                   lexicons=names,
                   trained={"rows": len(labels), "positive": int(y.sum()), "cv_accuracy": round(acc, 4), "folds": folds,
                            "source": data.name})
    tmp = output.with_name(output.name + ".tmp")
    tmp.write_text(json.dumps(head), encoding="utf-8")
    tmp.replace(output)
    extra = f" + {', '.join(names)}" if names else ""
    click.echo(f"{output}: head on {embedding} ({tool.dim} dims){extra}, {len(labels)} rows, "
               f"{folds}-fold cross-validated accuracy {acc:.3f}; {len(bad)} bad lines skipped")
    if bad:
        sys.exit(1)
