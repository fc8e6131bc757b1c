"""What the adapters share: other trainers' reward inputs (a full query, a label, a ground truth) turned
into chil records, and rewards turned back into plain numbers.  No third-party import here."""

from __future__ import annotations

import asyncio
import atexit
import json
import logging
import threading
from collections.abc import Mapping
from typing import Any

from chil_core.contracts import Record, RecordReward

log = logging.getLogger(__name__)

#: end-of-sequence markers a trainer may leave on the decoded text (OpenRLHF decodes with
#: ``skip_special_tokens=False``); removed from the end of a completion before it is judged
EOS_MARKERS = ("<|im_end|>", "<|endoftext|>", "<|eot_id|>", "<|end_of_text|>", "</s>", "<eos>", "<|end|>")


def strip_eos(text: str) -> str:
    """``text`` without trailing end-of-sequence markers (and the whitespace around them)."""
    changed = True
    while changed:
        changed = False
        stripped = text.rstrip()
        for marker in EOS_MARKERS:
            if stripped.endswith(marker):
                text, changed = stripped[: -len(marker)], True
                break
    return text


def split_query(query: str, prompt: str) -> str:
    """The completion part of ``query`` (prompt + response, as OpenRLHF sends it).

    The prompt is found at the start of the query (or, when the tokenizer changed its spacing, at its
    last occurrence); a query that does not contain its prompt is judged whole, with a warning."""
    if prompt and query.startswith(prompt):
        return strip_eos(query[len(prompt):])
    at = query.rfind(prompt) if prompt else -1
    if at >= 0:
        return strip_eos(query[at + len(prompt):])
    if prompt:
        log.warning("query does not contain its prompt; the whole query is judged as the completion")
    return strip_eos(query)


def label_fields(label: Any, *, where: str) -> dict[str, Any]:
    """A record's ``reference`` and ``metadata`` from another trainer's label / ground truth.

    * a string (or number) is the gold answer: ``reference = {"answer": label}``; a string holding a JSON
      object is read as the object;
    * an object may carry ``reference`` (an object), ``answer`` and ``metadata`` (an object), as a
      ``chil score`` record does; any other keys of it become the reference;
    * ``None`` or ``""``: no gold data (frameworks that need it abstain).

    A malformed label raises ValueError naming ``where``."""
    if label is None:
        return {}
    if isinstance(label, bool):
        raise ValueError(f"{where}: expected a string, number or object, got a boolean")
    if isinstance(label, int | float):
        return {"reference": {"answer": str(label)}}
    if isinstance(label, str):
        text = label.strip()
        if not text:
            return {}
        if text.startswith("{"):
            try:
                parsed = json.loads(text)
            except json.JSONDecodeError:
                parsed = None
            if isinstance(parsed, dict):
                return label_fields(parsed, where=where)
        return {"reference": {"answer": label}}
    if isinstance(label, Mapping):
        out: dict[str, Any] = {}
        reference = label.get("reference")
        if reference is not None and not isinstance(reference, Mapping):
            raise ValueError(f"{where}.reference: expected an object, got {type(reference).__name__}")
        metadata = label.get("metadata")
        if metadata is not None and not isinstance(metadata, Mapping):
            raise ValueError(f"{where}.metadata: expected an object, got {type(metadata).__name__}")
        ref = dict(reference or {})
        rest = {k: v for k, v in label.items() if k not in ("reference", "metadata") and v is not None}
        if "answer" in rest:
            ref.setdefault("answer", str(rest.pop("answer")))
        ref.update({k: v for k, v in rest.items() if k not in ref})
        if ref:
            out["reference"] = ref
        if metadata:
            out["metadata"] = dict(metadata)
        return out
    raise ValueError(f"{where}: expected a string, number or object, got {type(label).__name__}")


def make_record(rid: str, prompt: str, completion: str, label: Any = None, *, where: str = "label",
                group: str | None = None) -> Record:
    return Record(id=rid, prompt=prompt, completion=completion, group=group, **label_fields(label, where=where))


def reward_value(reward: RecordReward, masked_value: float) -> float:
    """The reward as a number: ``masked_value`` where no framework scored (trainers need a number)."""
    return masked_value if reward.reward is None else float(reward.reward)


def framework_scores(rewards: list[RecordReward], names: list[str], masked_value: float) -> dict[str, list[float]]:
    """Per framework, one number per record (its score; ``masked_value`` where it did not score), and
    ``chil_masked``: 1.0 where the record's reward was masked."""
    out: dict[str, list[float]] = {}
    for name in names:
        col = []
        for r in rewards:
            res = r.frameworks.get(name)
            col.append(float(res.score) if res is not None and res.status == "scored" and res.score is not None else masked_value)
        out[f"chil_{name}"] = col
    out["chil_masked"] = [1.0 if r.reward is None else 0.0 for r in rewards]
    return out


class RecordBatcher:
    """Gathers the records of concurrent callers (HTTP requests, per-sample reward calls) on one event loop
    into one scorer submission: up to ``max_records`` records, or whatever arrived within ``wait_s``."""

    def __init__(self, scorer: Any, max_records: int, wait_s: float) -> None:
        self.scorer = scorer
        self.max_records = max_records
        self.wait_s = wait_s
        self.queue: asyncio.Queue[tuple[list[Any], asyncio.Future[list[Any]]]] = asyncio.Queue()
        self.task: asyncio.Task[None] | None = None
        self.batches: set[asyncio.Task[None]] = set()

    def start(self) -> None:
        self.task = asyncio.get_running_loop().create_task(self._loop())

    async def score(self, records: list[Any]) -> list[Any]:
        fut: asyncio.Future[list[Any]] = asyncio.get_running_loop().create_future()
        await self.queue.put((records, fut))
        return await fut

    async def _loop(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            items = [await self.queue.get()]
            size = len(items[0][0])
            deadline = loop.time() + self.wait_s
            while size < self.max_records:
                left = deadline - loop.time()
                try:
                    item = self.queue.get_nowait() if left <= 0 else await asyncio.wait_for(self.queue.get(), left)
                except (asyncio.QueueEmpty, TimeoutError):
                    break
                items.append(item)
                size += len(item[0])
            task = loop.create_task(self._run(items))
            self.batches.add(task)
            task.add_done_callback(self.batches.discard)

    async def _run(self, items: list[tuple[list[Any], asyncio.Future[list[Any]]]]) -> None:
        records = [r for recs, _ in items for r in recs]
        try:
            rewards = await asyncio.wrap_future(self.scorer.submit(records))
        except Exception as exc:  # noqa: BLE001 - every waiting request gets the failure
            log.error("scoring a batch of %d records raised", len(records), exc_info=True)
            for _, fut in items:
                if not fut.done():
                    fut.set_exception(exc)
            return
        at = 0
        for recs, fut in items:
            if not fut.done():
                fut.set_result(rewards[at: at + len(recs)])
            at += len(recs)

    async def close(self) -> None:
        if self.task is not None:
            self.task.cancel()
            await asyncio.gather(self.task, return_exceptions=True)
        if self.batches:
            await asyncio.gather(*list(self.batches), return_exceptions=True)


_SCORERS: dict[tuple[str | None, tuple[str, ...] | None], Any] = {}
_SCORERS_LOCK = threading.Lock()


def shared_scorer(config: str | None = None, frameworks: Any = None) -> Any:
    """One Scorer per (config, frameworks) and process, built on first use and closed at exit: what
    trainers that import a reward *function* (verl, OpenRLHF, verifiers) call on every batch.

    ``config``: a TOML path, else ``$CHIL_CONFIG``, else ``./chil.toml``, else the installed defaults;
    ``frameworks``: a list or a comma-separated string, else ``$CHIL_FRAMEWORKS``, else the config's."""
    import os

    if isinstance(frameworks, str):
        frameworks = [f.strip() for f in frameworks.split(",") if f.strip()]
    if frameworks is None and os.environ.get("CHIL_FRAMEWORKS"):
        frameworks = [f.strip() for f in os.environ["CHIL_FRAMEWORKS"].split(",") if f.strip()]
    key = (config, tuple(frameworks) if frameworks else None)
    with _SCORERS_LOCK:
        scorer = _SCORERS.get(key)
        if scorer is None:
            from chil_core.scoring import Scorer

            scorer = _SCORERS[key] = Scorer.from_config(config, frameworks=list(frameworks) if frameworks else None)
            if len(_SCORERS) == 1:
                atexit.register(close_shared_scorers)
        return scorer


def close_shared_scorers() -> None:
    with _SCORERS_LOCK:
        scorers = list(_SCORERS.values())
        _SCORERS.clear()
    for scorer in scorers:
        try:
            scorer.close()
        except Exception:  # noqa: BLE001
            log.warning("closing a shared scorer raised", exc_info=True)


_BATCHERS: dict[tuple[int, int], RecordBatcher] = {}


def loop_batcher(scorer: Any, max_records: int = 1024, wait_s: float = 0.002) -> RecordBatcher:
    """The :class:`RecordBatcher` of ``scorer`` on the running event loop (one per loop and scorer)."""
    loop = asyncio.get_running_loop()
    key = (id(loop), id(scorer))
    batcher = _BATCHERS.get(key)
    if batcher is None or batcher.task is None or batcher.task.done():
        batcher = _BATCHERS[key] = RecordBatcher(scorer, max_records, wait_s)
        batcher.start()
    return batcher
