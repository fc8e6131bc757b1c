"""The ``consistency`` framework: is the completion coherent with the premises, with itself, and with
what was claimed earlier in its episode?  And, for a record that asks a question, is its answer the
one the premises force?

**Questions** (``metadata.conclusion_fol``, ``metadata.statement`` or ``metadata.options``): the
prover decides the statement (``entailed`` → True, ``contradicted`` → False, ``undetermined`` →
Unknown; for options, the one option the premises entail) and the completion's final label
(:mod:`.labels`) is scored 1 when it names that verdict, else 0 (verdicts ``correct``,
``wrong_answer``, ``ambiguous``, ``no_answer``, ``empty``).  The prover's verdict and its unsat core
are the evidence.

**Claims** (otherwise): per claim the premises give a verdict: ``entailed`` (follows),
``contradicted`` (its negation follows), ``undetermined``, ``unparseable`` (a ```fol line that does not
parse, as written).  On top, the framework finds what cannot hold together: *premise conflicts*
(controlled English: an undetermined claim that makes the premises derive some atom both ways),
*self-contradictions* (claims each possible but jointly impossible with the premises) and *episode
contradictions* (with claims recalled from the episode memory).  Restated premises and tautologies
(claims the prover entails from no premise) are *filler* and count for nothing.  The score, in [0, 1]::

    bad   = contradicted + unparseable + premise_conflicts + self_contradictions + episode_contradictions
    score = 0                                  if bad > 0      (one false claim is not averaged away)
          = (1 + entailed / informative) / 2   otherwise       (informative = claims − filler)
          = 0.5                                when every claim is filler (verdict ``uninformative``)

so 1 = every informative claim follows, 0.5 = nothing decided either way.  Repeated claims count
once.  The record's ``verdict`` is, in this order: ``contradicted``, ``unparseable``,
``self_contradictory``, ``contradicts_episode``, ``uninformative``, ``entailed`` (every informative
claim), else ``undetermined``.

A tool failure on a call that carried the completion's claims is the completion's doing
(``cause = "completion"``, penalised by default) when the premises alone still pass; see
:mod:`chil_core.failures`.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import dataclasses
import itertools
import math
from dataclasses import dataclass, field
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field, model_validator

from chil_core import Evidence, Framework, FrameworkResult, Record, ToolCall, ToolResult
from chil_core.capabilities.logic_program import Literal as Lit
from chil_core.failures import tool_failure
from chil_plugin_consistency.claims import (
    Claim,
    Job,
    Problem,
    TheoryCache,
    build_job,
    english_source,
    json_of,
    render,
)
from chil_plugin_consistency.labels import DEFAULT_LABELS, LABEL_NAMES, find_label

_VERDICTS = ("entailed", "contradicted", "undetermined")
#: records with more text than this are parsed on a helper thread, never on the event loop
OFFLOAD_CHARS = 16_384
#: a decide call that a worker has been running for this long starts its premises-only check beside
#: it (time spent queued for a worker does not count: on a busy machine that would double the calls)
SPECULATE_S = 1.0


class ConsistencyOptions(BaseModel):
    """Options of the consistency framework (``[frameworks.consistency.options]``)."""

    model_config = ConfigDict(extra="forbid")

    max_claims: int = Field(default=32, ge=1, le=1000, description="Claims judged per record; more are dropped (noted).")
    max_pair_checks: int = Field(default=64, ge=0, description="Controlled English: single/pair consistency checks per record.")
    memory: bool = Field(default=True, description="Check claims against the episode memory when a text_index backend is set.")
    memory_recall: int = Field(default=16, ge=1, le=500, description="Earlier claims recalled per record.")
    theory_cache: int = Field(default=4096, ge=0, description="Controlled-English theories kept parsed, by their text (0 = off).")
    max_premise_chars: int = Field(default=200_000, ge=1, description="Longest premise text (prompt or metadata.theory) read; longer is an error.")
    labels: dict[str, list[str]] = Field(
        default_factory=lambda: {k: list(v) for k, v in DEFAULT_LABELS.items()},
        description="Answer labels: prover verdict (entailed / contradicted / undetermined) -> words a completion may use.")

    @model_validator(mode="after")
    def _labels_are_verdicts(self) -> ConsistencyOptions:
        unknown = set(self.labels) - set(_VERDICTS)
        if unknown:
            raise ValueError(f"labels: unknown verdict(s) {sorted(unknown)}; use {', '.join(_VERDICTS)}")
        owners: dict[str, str] = {}
        for verdict, words in self.labels.items():
            for w in words:
                key = " ".join(w.casefold().split())
                if not key:
                    raise ValueError(f"labels.{verdict}: empty label word")
                if owners.setdefault(key, verdict) != verdict:
                    raise ValueError(f"labels: {w!r} names both {owners[key]} and {verdict}")
        return self


@dataclass
class _Outcome:
    verdicts: list[str]
    cores: list[list[int]] = field(default_factory=list)
    premise_conflicts: list[int] = field(default_factory=list)  # undetermined, yet impossible with the premises
    self_conflicts: list[list[int]] = field(default_factory=list)  # indices into job.claims
    episode_conflicts: list[tuple[int, Claim]] = field(default_factory=list)
    evidence: list[Evidence] = field(default_factory=list)


class ConsistencyFramework(Framework):
    """Judges claims against premises (FOL with Z3, controlled English with a logic_program backend),
    finds self-contradictions and contradictions with earlier claims of the episode."""

    name: ClassVar[str] = "consistency"
    version: ClassVar[str] = "0.1.0"
    description: ClassVar[str] = "Is it coherent? FOL entailment, controlled-English theories, self-consistency, episode memory."
    capabilities: ClassVar[dict[str, bool]] = {"smt": False, "logic_program": False, "text_index": False}
    default_tools: ClassVar[dict[str, str]] = {"smt": "z3", "logic_program": "clingo", "text_index": "sqlite"}
    default_weight: ClassVar[float] = 1.0
    Options: ClassVar[type[BaseModel]] = ConsistencyOptions

    options: ConsistencyOptions
    sequential: ClassVar[bool] = True  # episode memory: a record sees the records of its episode before it
    #: what a result depends on, for a record outside any episode (see :meth:`result_key`)
    reads: ClassVar[tuple[str, ...]] = ("prompt", "completion", "reference", "metadata")
    #: the episode memory: called only for a record with ``metadata.episode``, which is never keyed
    stateful_capabilities: ClassVar[frozenset[str]] = frozenset({"text_index"})
    #: a framework worker's warm-up (Framework.warmup): each sentence form, a rule chain, a relation, a
    #: claim entailed, one contradicted, one restated, in words no dataset has (nothing a real record
    #: reads is parsed by it)
    warmup: ClassVar[tuple[dict[str, Any], ...]] = tuple(
        {"prompt": "Quorbl is a zindle. Every zindle is a plemf. Plemfs are not grint. Each plemf is vorp. "
                   "If something is vorp and not grint then it blicks the snarf. The snarf does not blick the quorbl.",
         "completion": completion}
        for completion in ("Quorbl is a zindle. Quorbl is a plemf. Quorbl is vorp, so Quorbl blicks the snarf.",
                           "Quorbl is grint. Quorbl is not vorp."))

    def __init__(self, options: BaseModel | None = None) -> None:
        super().__init__(options)
        self._episodes: dict[str, tuple[asyncio.Lock, int]] = {}
        self.theories = TheoryCache(self.options.theory_cache)
        #: one thread: large records are parsed one after another, off the event loop (a second record
        #: with the same large prompt then finds it parsed)
        self._parser: concurrent.futures.ThreadPoolExecutor | None = None

    def close(self) -> None:
        if self._parser is not None:
            self._parser.shutdown(wait=False, cancel_futures=True)
            self._parser = None

    async def _build(self, record: Record) -> Job | Problem:
        """The record's job; parsed on a helper thread when the record is large and its premises are
        not cached, so a long (hostile) text never holds the event loop and its neighbours."""
        source = english_source(record)
        for text, where in ((record.prompt, "the prompt"), (source, "the premise text")):
            if text is not None and len(text) > self.options.max_premise_chars:
                return Problem("error", f"{where} has {len(text):,} characters; at most {self.options.max_premise_chars:,} "
                                        "are read (frameworks.consistency.options.max_premise_chars)")
        size = len(record.completion) + (len(source) if source is not None and source not in self.theories else 0)
        if size <= OFFLOAD_CHARS:
            return build_job(record, self.options.max_claims, self.theories)
        if self._parser is None:
            self._parser = concurrent.futures.ThreadPoolExecutor(max_workers=1, thread_name_prefix="chil-consistency-parse")
        return await asyncio.wrap_future(self._parser.submit(build_job, record, self.options.max_claims, self.theories))

    def result_key(self, record: Record) -> Any:
        """A record of an episode (``metadata.episode``, memory on) depends on the records before it: not
        cached.  Any other is judged on its own: keyed by :attr:`reads` (not the id, so that the equal
        completions of a GRPO group are scored once)."""
        if self.options.memory and _episode(record) is not None:
            return None
        return self.content_key(record)

    async def score(self, record: Record, ctx: Any) -> FrameworkResult:
        episode = _episode(record) if self.options.memory and ctx.has("text_index") else None
        if episode is None:
            return await self._score(record, ctx, None)
        # Records of one episode are judged one at a time, in the order score() is called (the
        # scorer calls it in input order): each sees exactly the claims of the records before it.
        lock, users = self._episodes.get(episode) or (asyncio.Lock(), 0)
        self._episodes[episode] = (lock, users + 1)
        try:
            async with lock:
                return await self._score(record, ctx, episode)
        finally:
            lock, users = self._episodes[episode]
            if users <= 1:
                del self._episodes[episode]
            else:
                self._episodes[episode] = (lock, users - 1)

    async def _score(self, record: Record, ctx: Any, episode: str | None) -> FrameworkResult:
        job = await self._build(record)
        if isinstance(job, Problem):
            verdict = "empty" if job.status == "abstained" and not record.completion.strip() else None
            return FrameworkResult(status=job.status, explanation=job.message, verdict=verdict)
        capability = "smt" if job.mode == "fol" else "logic_program"
        if not ctx.has(capability):
            return FrameworkResult.abstained(f"no {capability} backend is configured for {job.mode} claims")
        if job.question is not None:
            return await self._answer(record, job, ctx, capability)
        recalled = await self._recall(record, job, episode, ctx)
        if job.mode == "fol":
            outcome = await self._judge_fol(job, recalled, ctx)
        else:
            outcome = await self._judge_english(job, recalled, ctx)
        if isinstance(outcome, FrameworkResult):
            return outcome
        if episode is not None:
            await self._remember(record, job, episode, ctx, outcome)
        return _result(job, outcome, ctx.backend(capability))

    # -- questions: the answer label against the prover's verdict ------------------------------
    async def _answer(self, record: Record, job: Job, ctx: Any, capability: str) -> FrameworkResult:
        q = job.question
        assert q is not None
        decided = await self._decide_question(job, ctx)
        if isinstance(decided, FrameworkResult):
            return decided
        verdicts, evidence = decided
        backend = ctx.backend(capability)
        if q.letters:
            right = [x for x, v in zip(q.letters, verdicts, strict=True) if v == "entailed"]
            if len(right) != 1:
                return FrameworkResult.abstained(
                    f"the premises entail {len(right)} of the options ({', '.join(right) or 'none'}): no single answer",
                    evidence=evidence)
            expected, expected_text = right[0], f"({right[0]}) {q.texts[q.letters.index(right[0])]}"
        else:
            if verdicts[0] not in _VERDICTS:
                return FrameworkResult.abstained(f"{backend} cannot decide the statement ({verdicts[0]})", evidence=evidence)
            expected, expected_text = verdicts[0], f"{LABEL_NAMES[verdicts[0]]} ({verdicts[0]}): {q.texts[0]}"
        gold = (record.reference or {}).get("answer")
        if gold is not None:
            evidence.append(Evidence(kind="reference", text=f"reference answer: {gold}", data={"answer": gold}))
        comp = {"answer_correct": 0.0, "answer_found": 0.0}
        if not record.completion.strip():
            verdict, said = "empty", "an empty completion"
        else:
            label = find_label(record.completion, self.options.labels, q.letters)
            if label is None:
                verdict, said = "no_answer", "no final answer label"
            elif label.ambiguous:
                verdict, said, comp["answer_found"] = "ambiguous", f"an ambiguous answer {label.text!r}", 1.0
            else:
                comp["answer_found"] = 1.0
                ok = label.key == expected
                verdict, said = ("correct" if ok else "wrong_answer"), f"{label.text!r}"
                comp["answer_correct"] = float(ok)
        evidence.insert(0, Evidence(kind="answer", text=f"the premises make it {expected_text}; the completion gave {said}",
                                    data={"expected": expected, "verdict": verdict}))
        return FrameworkResult.scored(comp["answer_correct"], components=comp, verdict=verdict, evidence=evidence,
                                      explanation=f"{job.mode} via {backend}: expected {expected}; {verdict}")

    async def _decide_question(self, job: Job, ctx: Any) -> tuple[list[str], list[Evidence]] | FrameworkResult:
        """The prover's verdict on each statement of the question, with its evidence."""
        q = job.question
        assert q is not None
        evidence: list[Evidence] = []
        if job.mode == "fol":
            res = await ctx.call("smt", "fol", {"premises": job.premises_fol, "claims": q.statements, "joint": False})
            if not res.ok:
                return tool_failure(res, "smt")  # gold premises and statement only: never the completion's fault
            value = res.value
            if value["premises_consistent"] is False:
                return _inconsistent_fol(job, value)
            verdicts = [c["verdict"] for c in value["claims"]]
            for text, c in zip(q.texts, value["claims"], strict=True):
                core = c.get("core") or []
                evidence.append(Evidence(kind="unsat_core" if core else "claim",
                                         text=f"{c['verdict']}: {text}" + (" | from: " + " ; ".join(job.premise_texts[i] for i in core) if core else ""),
                                         data={"verdict": c["verdict"], "statement": text, "premises": core}))
            return verdicts, evidence
        lits = [lit for stmt in q.statements for lit in stmt]
        res = await ctx.call("logic_program", "decide", _decide(job, lits).payload)
        if not res.ok:
            return tool_failure(res, "logic_program")
        if not res.value["consistent"]:
            return FrameworkResult.abstained(
                "the premises contradict each other",
                evidence=[Evidence(kind="clash", text=f"the premises derive {_both_ways(res.value['clashes'])}", data=res.value)])
        answers = iter(res.value["answers"])
        verdicts = []
        for text, stmt in zip(q.texts, q.statements, strict=True):
            parts = [next(answers) for _ in stmt]
            v = "contradicted" if "contradicted" in parts else "entailed" if all(p == "entailed" for p in parts) else "undetermined"
            verdicts.append(v)
            evidence.append(Evidence(kind="claim", text=f"{v}: {text}", data={"verdict": v, "statement": text, "literals": parts}))
        return verdicts, evidence

    # -- episode memory ----------------------------------------------------------------------
    async def _recall(self, record: Record, job: Job, episode: str | None, ctx: Any) -> list[Claim]:
        if episode is None or not self.options.memory or not ctx.has("text_index"):
            return []
        terms = sorted({t for c in job.claims for t in c.terms})
        if not terms:
            return []
        res = await ctx.call("text_index", "search", {
            "episode": episode, "terms": terms, "kind": job.mode, "exclude_record": record.id,
            "limit": self.options.memory_recall})
        if not res.ok:
            job.notes.append(f"episode memory unavailable ({res.status}: {res.error})")
            return []
        return [Claim(h["text"], job.mode, h["data"], tuple(h.get("terms", ())), record=h.get("record"))
                for h in res.value.get("hits", [])]

    async def _remember(self, record: Record, job: Job, episode: str, ctx: Any, outcome: _Outcome) -> None:
        keep = [c.memo() for c, v in zip(job.claims, outcome.verdicts, strict=True) if c.data is not None and v != "unparseable"]
        if keep:
            res = await ctx.call("text_index", "add", {"episode": episode, "record": record.id, "claims": keep})
            if not res.ok:
                job.notes.append(f"claims not stored in the episode memory ({res.status}: {res.error})")

    # -- first-order logic -------------------------------------------------------------------
    async def _judge_fol(self, job: Job, recalled: list[Claim], ctx: Any) -> _Outcome | FrameworkResult:
        judged = [i for i, c in enumerate(job.claims) if c.data is not None]
        asts = [job.claims[i].data for i in judged] + [r.data for r in recalled]
        verdicts = ["unparseable"] * len(job.claims)
        cores: list[list[int]] = [[] for _ in job.claims]
        if not asts:
            return _Outcome(verdicts, cores)
        res = await ctx.call("smt", "fol", {"premises": job.premises_fol, "claims": asts, "joint": True})
        if not res.ok:
            # the completion's doing unless the premises alone fail too
            alone = await ctx.call("smt", "fol", {"premises": job.premises_fol, "claims": [], "joint": False})
            return tool_failure(res, "smt", completion_input=alone.ok)
        value = res.value
        if value["premises_consistent"] is False:
            return _inconsistent_fol(job, value)
        for k, i in enumerate(judged):
            verdicts[i] = value["claims"][k]["verdict"]
            cores[i] = value["claims"][k]["core"]
            if verdicts[i] == "entailed" and not cores[i] and job.claims[i].filler is None:
                job.claims[i] = dataclasses.replace(job.claims[i], filler="tautology")  # follows from no premise
        out = _Outcome(verdicts, cores)
        n = len(judged)
        for conflict in value["conflicts"]:
            mine = [judged[k] for k in conflict if k < n]
            theirs = [recalled[k - n] for k in conflict if k >= n]
            if mine and theirs:
                out.episode_conflicts.extend((i, r) for i in mine for r in theirs[:1])
            elif mine:
                out.self_conflicts.append(mine)
        return out

    # -- controlled English ------------------------------------------------------------------
    async def _judge_english(self, job: Job, recalled: list[Claim], ctx: Any) -> _Outcome | FrameworkResult:
        """One ``decide`` call for the common case: the claims as queries (verdicts, and whether the
        premises are consistent) and, as an assumed set, all of them at once (can they hold together
        with the premises?).  Only when they cannot: one call for each claim alone, one for the pairs."""
        claims = job.claims + recalled
        lits = [c.literal for c in claims]
        res = await self._call_or_premises(ctx, _decide(job, lits, assume=[lits]), _decide(job, []))
        if isinstance(res, tuple):  # failed: the completion's doing unless the premises alone fail too
            failed, alone = res
            return tool_failure(failed, "logic_program", completion_input=alone.ok)
        first = res.value
        joint = first["assumed"][0]
        if not first["consistent"]:
            return FrameworkResult.abstained(
                "the premises contradict each other",
                evidence=[Evidence(kind="clash", text=f"the premises derive {_both_ways(first['clashes'])}",
                                   data={k: first[k] for k in ("consistent", "clashes", "answers")})])
        answers = first["answers"]
        mine = len(job.claims)
        out = _Outcome(list(answers[:mine]), [[] for _ in job.claims])
        if joint["consistent"]:
            return out
        # Jointly inconsistent: find the undetermined claims that cannot hold with the premises on
        # their own, then the pairs that cannot hold together (entailed claims add nothing derivable).
        open_ = [i for i, a in enumerate(answers) if a == "undetermined"]
        singles = open_[: self.options.max_pair_checks]
        single_res = await self._assumed(job, [[lits[i]] for i in singles], ctx)
        bad = set()
        for i, r in zip(singles, single_res, strict=True):
            if r is not None and not r["consistent"]:
                bad.add(i)
                if i < mine:
                    out.premise_conflicts.append(i)
                    out.evidence.append(_clash_evidence([claims[i].text], r["clashes"], "with the premises"))
        good = [i for i in open_ if i not in bad]
        pairs = [(a, b) for a, b in itertools.combinations(good, 2) if a < mine]
        budget = max(self.options.max_pair_checks - len(singles), 0)
        if len(pairs) > budget:
            job.notes.append(f"{len(pairs) - budget} claim pair(s) not checked (max_pair_checks)")
            pairs = pairs[:budget]
        pair_res = await self._assumed(job, [[lits[a], lits[b]] for a, b in pairs], ctx)
        for (a, b), r in zip(pairs, pair_res, strict=True):
            if r is None or r["consistent"]:
                continue
            if b < mine:
                out.self_conflicts.append([a, b])
            else:
                out.episode_conflicts.append((a, claims[b]))
            out.evidence.append(_clash_evidence([claims[a].text, claims[b].text], r["clashes"], "together"))
        return out

    async def _call_or_premises(self, ctx: Any, call: ToolCall, premises: ToolCall) -> ToolResult | tuple[ToolResult, ToolResult]:
        """``call``'s result; when it fails, (that failure, the result of ``premises``: the same theory
        without the completion's claims, which says whose fault the failure is).  A call that a worker
        has run for ``SPECULATE_S`` starts the premises-only call beside it, so a theory that runs out
        its timeout costs one timeout, not two in a row (it is the same payload for every record of a
        prompt: deduplicated and cached).  Time queued for a worker does not count (a context
        without ``running_s`` counts from now).  The call is queued before this first waits (a
        context's ``submit``), so a batch fills, and goes to a worker, while later records are parsed."""
        if getattr(ctx, "answers_together", False):
            # a framework worker's context: its driver answers the calls of a chunk's records together;
            # a call that fails there sends the record back to the main process, which runs this again
            return await ctx.call(call.capability, call.op, call.payload)
        submit = getattr(ctx, "submit", None)
        if submit is not None:
            main = submit(call.capability, call.op, call.payload)
        else:
            main = asyncio.ensure_future(ctx.call(call.capability, call.op, call.payload))
        running_s = getattr(ctx, "running_s", None)
        loop = asyncio.get_running_loop()
        spare: asyncio.Future[ToolResult] | None = None
        timer: asyncio.TimerHandle | None = None

        def look() -> None:  # a timer, not asyncio.wait: most calls are answered long before it fires
            nonlocal spare, timer
            timer = None
            if main.done():
                return
            ran = math.inf if running_s is None else running_s(call.capability, call.op, call.payload)
            if ran is not None and ran >= SPECULATE_S:
                spare = asyncio.ensure_future(ctx.call(premises.capability, premises.op, premises.payload))
            else:  # still queued: look again later
                timer = loop.call_later(SPECULATE_S if ran is None else SPECULATE_S - ran, look)

        timer = loop.call_later(SPECULATE_S, look)
        try:
            res = await main
        except BaseException:
            if spare is not None:
                spare.cancel()
            raise
        finally:
            if timer is not None:
                timer.cancel()
        if res.ok:
            if spare is not None:
                spare.cancel()
            return res
        alone = await spare if spare is not None else await ctx.call(premises.capability, premises.op, premises.payload)
        return res, alone

    async def _assumed(self, job: Job, sets: list[list[Lit]], ctx: Any) -> list[dict[str, Any] | None]:
        """Whether the premises stay consistent with each set of literals: one call (None per set when it fails)."""
        if not sets:
            return []
        res = await ctx.call("logic_program", "decide", _decide(job, [], assume=sets).payload)
        if not res.ok:
            job.notes.append(f"conflict checks failed ({res.status}: {res.error})")
            return [None] * len(sets)
        return list(res.value["assumed"])


# -- helpers ------------------------------------------------------------------------------------
def _episode(record: Record) -> str | None:
    """``metadata.episode`` only: the completions of one GRPO group (``group``) are alternatives to
    each other, not turns of one conversation, so one must not be judged against another."""
    ep = (record.metadata or {}).get("episode")
    return str(ep) if ep not in (None, "") else None


def _both_ways(clashes: list[dict[str, Any]]) -> str:
    return ", ".join(f"{render(_lit(c))} and ¬{render(_lit(c))}" for c in clashes)


def _clash_evidence(texts: list[str], clashes: list[dict[str, Any]], how: str) -> Evidence:
    return Evidence(kind="clash", text=f"{' + '.join(repr(t) for t in texts)} {how} derive {_both_ways(clashes)}",
                    data={"claims": texts, "clashes": clashes})


def _lit(data: dict[str, Any]) -> Lit:
    return Lit(data["pred"], tuple(data["args"]), bool(data.get("neg", False)))


def _decide(job: Job, queries: list[Lit], assume: list[list[Lit]] | None = None) -> ToolCall:
    """The ``decide`` call over the job's premises (their JSON is built once per theory and shared)."""
    theory = job.theory_json if job.theory_json is not None else job.theory.to_json()  # type: ignore[union-attr]
    payload: dict[str, Any] = {"theory": theory, "queries": [json_of(q) for q in queries]}
    if assume is not None:
        payload["assume"] = [[json_of(lit) for lit in group] for group in assume]
    return ToolCall(capability="logic_program", op="decide", payload=payload)


def _inconsistent_fol(job: Job, value: dict[str, Any]) -> FrameworkResult:
    core = [job.premise_texts[i] for i in value.get("premise_core", [])]
    return FrameworkResult.abstained(
        "the premises contradict each other, so every claim would follow",
        evidence=[Evidence(kind="unsat_core", text="inconsistent premises: " + " ; ".join(core),
                           data={"premises": value.get("premise_core", [])})])


def _result(job: Job, out: _Outcome, backend: str | None) -> FrameworkResult:
    """Combine the claims' verdicts into the record's score (formula in the module docstring)."""
    n = len(job.claims)
    informative = [v for c, v in zip(job.claims, out.verdicts, strict=True) if c.filler is None]
    counts = {v: informative.count(v) for v in ("entailed", "contradicted", "undetermined", "unknown", "unparseable", "both")}
    contradicted = counts["contradicted"] + counts["both"]
    p, k, m = len(out.premise_conflicts), len(out.self_conflicts), len(out.episode_conflicts)
    bad = contradicted + counts["unparseable"] + p + k + m
    filler = n - len(informative)
    if bad:
        score = 0.0
    elif not informative:
        score = 0.5
    else:
        score = (1.0 + counts["entailed"] / len(informative)) / 2.0
    if contradicted:
        verdict = "contradicted"
    elif counts["unparseable"]:
        verdict = "unparseable"
    elif k:
        verdict = "self_contradictory"
    elif m:
        verdict = "contradicts_episode"
    elif not informative:
        verdict = "uninformative"
    elif counts["entailed"] == len(informative):
        verdict = "entailed"
    else:
        verdict = "undetermined"
    evidence = _claim_evidence(job, out)
    premises = len(job.premises_fol) if job.theory is None else len(job.theory.facts) + len(job.theory.rules)
    components = {
        "claims": float(n), "informative": float(len(informative)), "filler": float(filler),
        "entailed": float(counts["entailed"]), "contradicted": float(contradicted),
        "undetermined": float(counts["undetermined"] + counts["unknown"]), "unparseable": float(counts["unparseable"]),
        "premise_conflicts": float(p), "self_contradictions": float(k), "episode_contradictions": float(m),
        "premises": float(premises),
    }
    if job.premises_skipped:
        components["premises_skipped"] = float(job.premises_skipped)
    notes = "; ".join(job.notes)
    explanation = f"{job.mode} via {backend}: {verdict}" + (f" ({notes})" if notes else "")
    return FrameworkResult.scored(score, components=components, verdict=verdict, evidence=evidence, explanation=explanation)


def _claim_evidence(job: Job, out: _Outcome) -> list[Evidence]:
    evidence: list[Evidence] = []
    for claim, v, core in zip(job.claims, out.verdicts, out.cores, strict=True):
        data: dict[str, Any] = {"verdict": v, "claim": claim.text}
        text = f"{v}: {claim.text}"
        if claim.error:
            data["error"] = claim.error
            text += f" ({claim.error})"
        if claim.filler:
            data["filler"] = claim.filler
            text += f" [{claim.filler}: counts for nothing]"
        if core:
            data["premises"] = core
            text += " | from: " + " ; ".join(job.premise_texts[i] for i in core)
        kind = "parse_error" if claim.error else "unsat_core" if core else "claim"
        evidence.append(Evidence(kind=kind, text=text, data=data))
    for group in out.self_conflicts:
        texts = [job.claims[i].text for i in group]
        evidence.append(Evidence(kind="contradiction", text=" contradicts ".join(repr(t) for t in texts),
                                 data={"claims": texts, "source": "completion"}))
    for i, earlier in out.episode_conflicts:
        evidence.append(Evidence(kind="contradiction", text=f"{job.claims[i].text!r} contradicts {earlier.text!r} "
                                 f"claimed earlier in the episode (record {earlier.record})",
                                 data={"claims": [job.claims[i].text, earlier.text], "source": "episode", "record": earlier.record}))
    evidence.extend(out.evidence)
    return evidence
