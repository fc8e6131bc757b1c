"""The ``contextual`` framework: does the completion fit the situation it was written for?

A record asks up to three things; the framework judges those it asks and abstains on a record that asks
none (it is outside its scope):

* **tone**: ``metadata.tone`` = ``positive`` / ``negative`` / ``neutral`` or a number in [-1, 1].  The
  ``sentiment`` backend reads the whole answer and each sentence.  A label target is met when the whole
  answer has that label AND no sentence has the opposite one (so praise appended to a negative answer
  does not turn it positive); then ``score = 0.5 + 0.5·|polarity|``, else 0.  A number target scores
  ``1 − |polarity − target|`` (0 when a sentence has the opposite sign).  Components ``tone_match``
  (0/1) and ``tone_margin`` (the polarity signed toward the target).
* **relevance**: ``metadata.context`` (dialogue turns as a list, or a string).  Sentence-embedding cosine
  of each answer sentence with the last turn (0.85) and the whole context (0.15), shrunk toward 0.4 by
  the sentence's size (``(n·cos + 2·0.4)/(n + 2)``, n = its content words: a two-word sentence's cosine
  is mostly noise); the score is the *weakest* sentence's, so an off-topic answer cannot be padded into
  a relevant one.  The three constants were chosen on the even rows of grade_coherence and are reported
  on the odd rows (``benchmarks/contextual/run.py``).  Components
  ``relevance`` (that score), ``relevance_embedding`` (whole answer), ``relevance_keywords`` (share of
  the answer's content words found in the context).  With ``relevance_topics = true`` a ``topic_model``
  backend (Gensim LDA trained on the user's corpus by ``chil topics``) also compares the topics of the
  answer with those of the last turn (0.85) and the whole context (0.15): component ``relevance_topic``
  (1 − Hellinger distance); ``topic_weight`` mixes it into ``relevance`` (default 0: on grade_coherence
  the weight best on the even rows lowers the odd rows' Spearman, see ``benchmarks/contextual/run.py``).
* **grounding**: ``metadata.passage`` (a string or a list of strings), or, with ``metadata.retrieve``
  (``true``: the prompt is the query; or a query string) and no passage, the ``retrieve_k`` passages the
  ``vector_index`` backend finds (evidence ``retrieved`` names them).  Every number and named entity
  of the answer must be stated by the passage (:func:`~chil_plugin_contextual.text.grounding_items`);
  unsupported ones are evidence.  ``grounded_fraction`` = supported / checked; the score is the lowest
  per-sentence fraction (padding with true sentences does not dilute a false one), verdict
  ``grounded`` / ``partly_grounded`` / ``ungrounded``; an answer with nothing checkable scores half
  of the share of its content words the passage contains.

Before any of it the answer is *read* (:func:`~chil_plugin_contextual.text.read_completion`): sentences
copied from the prompt or context, filler without a content word, and repeats are set aside (counted as
evidence, never credited).  A record that asks something and gets no answer (empty, only filler or
copies) is scored 0 with verdict ``no_answer``: not masked.  The record's score is the mean of the
asked parts.  A backend failure on the completion's own text is penalised; an unavailable backend
abstains (see :mod:`chil_core.failures`).
"""

from __future__ import annotations

import math
import threading
from collections import OrderedDict
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field

from chil_core import Evidence, Framework, FrameworkResult, Record, ToolCall, ToolResult
from chil_core.failures import tool_failure
from chil_plugin_contextual.text import (
    PassageFacts,
    Reading,
    content_words,
    grounding_items,
    normalized_sources,
    read_completion,
)

LABELS = ("positive", "negative", "neutral")


class ContextualOptions(BaseModel):
    """Options of the contextual framework (``[frameworks.contextual.options]``)."""

    model_config = ConfigDict(extra="forbid")

    max_chars: int = Field(default=20_000, ge=100, le=2_000_000, description="The completion is cut to this length first.")
    max_sentences: int = Field(default=64, ge=1, le=1000, description="Sentences judged per completion; more are dropped.")
    max_items: int = Field(default=200, ge=1, le=10_000, description="Grounding: numbers and entities checked per completion.")
    neutral_band: float = Field(default=0.05, ge=0.0, lt=1.0, description="|polarity| below this is neutral.")
    last_turn_weight: float = Field(default=0.85, ge=0.0, le=1.0, description="Relevance: weight of the last turn vs the whole context.")
    short_sentence_weight: float = Field(default=2.0, ge=0.0, le=100.0,
                                         description="Relevance: a sentence of n content words scores (n·cos + this·prior)/(n + this).")
    short_sentence_prior: float = Field(default=0.4, ge=0.0, le=1.0, description="Relevance: what a sentence's cosine is shrunk toward.")
    retrieve_k: int = Field(default=3, ge=1, le=100, description="Passages retrieved for a record with metadata.retrieve and no passage.")
    relevance_topics: bool = Field(default=False, description="Relevance: also compare the answer's topics with the context's "
                                   "(capability topic_model, e.g. `lda` trained by `chil topics`); component relevance_topic.")
    topic_weight: float = Field(default=0.0, ge=0.0, le=1.0, description="Relevance: weight of relevance_topic in the combined "
                                "relevance (0: reported only; chosen on grade_coherence's even rows it lowered the odd rows' Spearman).")


class _Ask:
    def __init__(self, record: Record) -> None:
        md = record.metadata or {}
        self.tone: str | float | None = None
        self.problems: list[str] = []
        tone = md.get("tone")
        if tone is not None:
            if isinstance(tone, str) and tone.strip().casefold() in LABELS:
                self.tone = tone.strip().casefold()
            elif isinstance(tone, int | float) and not isinstance(tone, bool) and math.isfinite(tone) and -1 <= tone <= 1:
                self.tone = float(tone)
            else:
                self.problems.append(f"metadata.tone: must be positive, negative, neutral or a number in [-1, 1], got {tone!r}")
        self.context = _texts(md.get("context"), "metadata.context", self.problems)
        self.passage = _texts(md.get("passage"), "metadata.passage", self.problems)
        retrieve = md.get("retrieve")
        self.retrieve: str | None = None
        if retrieve is not None and not self.passage:
            if retrieve is True:
                self.retrieve = record.prompt
            elif isinstance(retrieve, str) and retrieve.strip():
                self.retrieve = retrieve
            elif retrieve is not False:
                self.problems.append("metadata.retrieve: must be true (query = the prompt) or a query string")

    @property
    def anything(self) -> bool:
        return self.tone is not None or bool(self.context) or bool(self.passage) or self.retrieve is not None


def _texts(value: Any, field: str, problems: list[str]) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        return [value] if value.strip() else []
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return [v for v in value if v.strip()]
    problems.append(f"{field}: must be a string or a list of strings")
    return []


class _Shared:
    """What a record's prompt context gives, computed once and shared by the records of a GRPO group
    (same prompt, context and passage): normalised sources, context words, passage facts."""

    __slots__ = ("ctx_words", "facts", "last", "source_norm", "whole")

    def __init__(self, prompt: str, context: list[str], passage: list[str]) -> None:
        self.source_norm = normalized_sources([prompt, *context])
        self.last = context[-1] if context else ""
        self.whole = " ".join(context)
        self.ctx_words = frozenset(content_words(self.whole)) if context else frozenset()
        self.facts = PassageFacts.of("\n".join(passage)) if passage else None


class _Prepared:
    """One record read and planned by :meth:`ContextualFramework.extract`, finished by ``judge``."""

    __slots__ = ("ask", "calls", "done", "evidence", "plan", "reading", "shared")

    def __init__(self) -> None:
        self.done: FrameworkResult | None = None
        self.calls: list[ToolCall] = []
        self.plan: dict[str, Any] = {}


class ContextualFramework(Framework):
    """Tone (sentiment), relevance to the dialogue (embeddings), grounding in a passage.

    One round of tool calls per record (``extract`` → the scheduler batches the sentiment, embedding
    and vector-index calls of every record in flight → ``judge``), so the scorer's bulk path serves it:
    no coroutine per record.  What the prompt context gives (:class:`_Shared`) is computed once per
    distinct context and kept in a small LRU."""

    name: ClassVar[str] = "contextual"
    version: ClassVar[str] = "0.2.1"
    description: ClassVar[str] = "Does it fit its situation? Tone asked for, relevance to the context, grounding in a passage."
    capabilities: ClassVar[dict[str, bool]] = {"sentiment": False, "embedding": False, "vector_index": False, "topic_model": False}
    default_tools: ClassVar[dict[str, str]] = {"sentiment": "afinn", "embedding": "wordllama", "vector_index": "faiss",
                                               "topic_model": "lda"}
    default_weight: ClassVar[float] = 1.0
    #: the result depends on these only: equal completions of a GRPO group (ids differ) are scored once
    reads: ClassVar[tuple[str, ...]] = ("prompt", "completion", "metadata")
    Options: ClassVar[type[BaseModel]] = ContextualOptions
    SHARED_SIZE: ClassVar[int] = 512
    PENDING_SIZE: ClassVar[int] = 65_536

    options: ContextualOptions

    def __init__(self, options: BaseModel | None = None) -> None:
        super().__init__(options)
        self._shared: OrderedDict[Any, _Shared] = OrderedDict()
        self._pending: dict[int, tuple[Record, _Prepared]] = {}
        self._lock = threading.Lock()

    # -- one round: extract -> calls -> judge ---------------------------------------------------
    def extract(self, record: Record) -> list[ToolCall]:
        prep = self._prepare(record)
        if prep.done is None:
            with self._lock:
                if len(self._pending) >= self.PENDING_SIZE:  # records extracted but never judged (timeouts)
                    self._pending.clear()
                self._pending[id(record)] = (record, prep)
        return prep.calls

    def judge(self, record: Record, calls: list[ToolCall], results: list[ToolResult]) -> FrameworkResult:
        with self._lock:
            entry = self._pending.pop(id(record), None)
        prep = entry[1] if entry is not None and entry[0] is record else self._prepare(record)
        if prep.done is not None:
            return prep.done
        return self._finish(prep, results)

    def _shared_for(self, record: Record, ask: _Ask) -> _Shared:
        key = (record.prompt, tuple(ask.context), tuple(ask.passage))
        with self._lock:
            got = self._shared.get(key)
            if got is not None:
                self._shared.move_to_end(key)
                return got
        got = _Shared(record.prompt, ask.context, ask.passage)
        with self._lock:
            self._shared[key] = got
            if len(self._shared) > self.SHARED_SIZE:
                self._shared.popitem(last=False)
        return got

    def _prepare(self, record: Record) -> _Prepared:
        prep = _Prepared()
        ask = _Ask(record)
        prep.ask = ask
        if ask.problems:
            prep.done = FrameworkResult.abstained("; ".join(ask.problems), cause="infrastructure")
            return prep
        if not ask.anything:
            prep.done = FrameworkResult.abstained("the record asks no tone, context or passage: outside this framework's scope")
            return prep
        o = self.options
        shared = prep.shared = self._shared_for(record, ask)
        reading = prep.reading = read_completion(record.completion, [], o.max_chars, o.max_sentences, shared.source_norm)
        prep.evidence = _reading_evidence(reading)
        if not reading.kept:
            comps = {k: 0.0 for k in _asked_components(ask)}
            prep.done = FrameworkResult.scored(0.0, components=comps, verdict="no_answer", evidence=prep.evidence,
                                               explanation="the record asks for an answer and the completion gives none of its own")
            return prep
        calls, plan = prep.calls, prep.plan
        if ask.retrieve is not None:
            plan["retrieve"] = len(calls)
            calls.append(ToolCall(capability="vector_index", op="search", payload={"queries": [ask.retrieve[:4000]], "k": o.retrieve_k}))
        if ask.tone is not None:
            texts = list(dict.fromkeys([reading.text, *reading.kept]))
            plan["tone"] = (len(calls), [texts.index(t) for t in [reading.text, *reading.kept]])
            calls += [ToolCall(capability="sentiment", op="polarity", payload={"text": t}) for t in texts]
        if ask.context:
            last, whole = shared.last, shared.whole
            pairs = [[reading.text, last], [reading.text, whole]]
            for s in reading.kept:
                pairs += [[s, last], [s, whole]]
            plan["relevance"] = len(calls)
            calls.append(ToolCall(capability="embedding", op="similarity", payload={"pairs": pairs}))
            if o.relevance_topics:
                plan["topics"] = len(calls)
                calls.append(ToolCall(capability="topic_model", op="similarity", payload={"pairs": pairs[:2]}))
        return prep

    def _finish(self, prep: _Prepared, results: list[ToolResult]) -> FrameworkResult:
        ask, reading, plan = prep.ask, prep.reading, prep.plan
        evidence = list(prep.evidence)
        facts = prep.shared.facts
        if "retrieve" in plan:
            res = results[plan["retrieve"]]
            if not res.ok:  # the query is the record's, not the completion's: an infrastructure failure
                return tool_failure(res, "vector_index", completion_input=False)
            hits = res.value["hits"][0]
            if not hits:
                return FrameworkResult.abstained("the index returned no passage for this record", cause="infrastructure")
            ask.passage = [h["text"] for h in hits]
            facts = PassageFacts.of("\n".join(ask.passage))
            evidence.insert(0, Evidence(kind="retrieved", text=f"{len(hits)} passage(s) retrieved from {res.backend or 'the index'}",
                                        data={"ids": [h["id"] for h in hits], "scores": [h["score"] for h in hits]}))
        for call, res in zip(prep.calls, results, strict=True):
            if not res.ok and call.capability != "vector_index":
                return tool_failure(res, call.capability, completion_input=True, evidence=evidence)
        parts: dict[str, float] = {}
        comps: dict[str, float] = {}
        verdicts: list[str] = []
        if ask.tone is not None:
            first, order = plan["tone"]
            values = [results[first + j].value for j in order]
            s, c, v = self._tone(ask.tone, values)
            parts["tone"] = s
            comps |= c
            verdicts.append(v)
            evidence.append(Evidence(kind="tone", text=f"asked {ask.tone!r}; read {v} (polarity {c['tone_polarity']:+.3f})",
                                     data={"backend": results[first].backend}))
        if ask.context:
            topic = results[plan["topics"]].value if "topics" in plan else None
            s, c = self._relevance(prep.shared, reading, results[plan["relevance"]].value, topic)
            parts["relevance"] = s
            comps |= c
        if ask.passage and facts is not None:
            s, c, v, ev = self._grounding(facts, reading)
            parts["grounding"] = s
            comps |= c
            verdicts.append(v)
            evidence += ev
        score = sum(parts.values()) / len(parts)
        verdict = verdicts[-1] if len(verdicts) == 1 else ("fits" if score >= 0.5 else "does_not_fit")
        if not verdicts:
            verdict = "relevant" if score >= 0.5 else "off_topic"
        return FrameworkResult.scored(score, components=comps, verdict=verdict, evidence=evidence)

    # -- tone --------------------------------------------------------------------------------
    def _tone(self, target: str | float, values: list[dict[str, Any]]) -> tuple[float, dict[str, float], str]:
        whole, per = values[0], values[1:]
        p = float(whole["polarity"])
        band = self.options.neutral_band
        labels = [v["label"] for v in per]
        if isinstance(target, str):
            sign = {"positive": 1.0, "negative": -1.0, "neutral": 0.0}[target]
            if target == "neutral":
                match = whole["label"] == "neutral" and all(lab == "neutral" for lab in labels)
                margin = 1.0 - abs(p)
                score = margin if match else 0.0
            else:
                opposite = "negative" if target == "positive" else "positive"
                match = whole["label"] == target and opposite not in labels
                margin = sign * p
                score = 0.5 + 0.5 * min(1.0, abs(p)) if match else 0.0
        else:
            opposite_sign = any((v["polarity"] > band and target < -band) or (v["polarity"] < -band and target > band) for v in per)
            score = 0.0 if opposite_sign else max(0.0, 1.0 - abs(p - target))
            match = score >= 0.5
            margin = -abs(p - target)
        read = whole["label"] if not (isinstance(target, str) and whole["label"] == target and not match) else "mixed"
        return score, {"tone_match": float(match), "tone_margin": round(margin, 6), "tone_polarity": p}, read

    # -- relevance ---------------------------------------------------------------------------
    def _relevance(self, shared: _Shared, reading: Reading, value: dict[str, Any],
                   topic: dict[str, Any] | None = None) -> tuple[float, dict[str, float]]:
        o = self.options
        w, k, prior = o.last_turn_weight, o.short_sentence_weight, o.short_sentence_prior
        s = value["scores"]
        whole = w * s[0] + (1 - w) * s[1]
        per = []
        for j, sentence in enumerate(reading.kept):
            cos = w * s[2 + 2 * j] + (1 - w) * s[3 + 2 * j]
            n = len(content_words(sentence))
            per.append((n * cos + k * prior) / (n + k))  # a short sentence's cosine is noisy: shrunk toward the prior
        weakest = min(per) if per else whole
        ctx_words = shared.ctx_words
        mine = content_words(reading.text)
        keywords = sum(x in ctx_words for x in mine) / len(mine) if mine else 0.0
        score = max(0.0, min(1.0, weakest))
        comps = {"relevance_embedding": round(whole, 6), "relevance_keywords": round(keywords, 6)}
        if topic is not None:
            t = w * topic["scores"][0] + (1 - w) * topic["scores"][1]
            comps["relevance_topic"] = round(t, 6)
            score = (1 - o.topic_weight) * score + o.topic_weight * t
        return score, {"relevance": round(score, 6), **comps}

    # -- grounding ---------------------------------------------------------------------------
    def _grounding(self, facts: PassageFacts, reading: Reading) -> tuple[float, dict[str, float], str, list[Evidence]]:
        items = grounding_items(reading.kept, facts, self.options.max_items)
        evidence = [Evidence(kind="unsupported", text=f"{it.kind} {it.text!r} is not in the passage",
                             data={"kind": it.kind, "text": it.text, "sentence": it.sentence})
                    for it in items if not it.supported][:20]
        if not items:
            pw = facts.content
            mine = content_words(reading.text)
            coverage = sum(x in pw for x in mine) / len(mine) if mine else 0.0
            return 0.5 * coverage, {"grounded_fraction": 0.0, "grounding_items": 0.0, "passage_coverage": round(coverage, 6)}, \
                "nothing_to_ground", evidence
        supported = sum(it.supported for it in items)
        fraction = supported / len(items)
        per_sentence: dict[int, list[bool]] = {}
        for it in items:
            per_sentence.setdefault(it.sentence, []).append(it.supported)
        score = min(sum(v) / len(v) for v in per_sentence.values())
        verdict = "grounded" if supported == len(items) else ("ungrounded" if supported == 0 else "partly_grounded")
        return score, {"grounded_fraction": round(fraction, 6), "grounding_items": float(len(items)),
                       "grounding_unsupported": float(len(items) - supported)}, verdict, evidence


def _asked_components(ask: _Ask) -> list[str]:
    out = []
    if ask.tone is not None:
        out += ["tone_match"]
    if ask.context:
        out += ["relevance"]
    if ask.passage or ask.retrieve is not None:
        out += ["grounded_fraction"]
    return out


def _reading_evidence(reading: Reading) -> list[Evidence]:
    ev = []
    if reading.copied:
        ev.append(Evidence(kind="copied", text=f"{len(reading.copied)} sentence(s) copied from the prompt or context earn nothing",
                           data={"sentences": [s[:200] for s in reading.copied[:5]]}))
    if reading.filler:
        ev.append(Evidence(kind="filler", text=f"{len(reading.filler)} sentence(s) without a content word set aside",
                           data={"sentences": [s[:200] for s in reading.filler[:5]]}))
    if reading.repeated:
        ev.append(Evidence(kind="repeated", text=f"{reading.repeated} repeated sentence(s) counted once"))
    if reading.truncated:
        ev.append(Evidence(kind="truncated", text="the completion was cut to max_chars before reading"))
    return ev


__all__ = ["ContextualFramework", "ContextualOptions", "ToolResult"]
