"""The ``consistency`` framework: is the completion coherent with the premises, with itself, and with
what was claimed earlier in its episode?

Per claim the premises give a verdict: ``entailed`` (follows), ``contradicted`` (its negation
follows), ``undetermined``.  On top, the framework finds what cannot hold together:
*premise conflicts* (controlled English: an undetermined claim that makes the premises derive some
atom both ways, e.g. "Gary is big" when big things are nice and Gary is not nice; in FOL such a claim
is simply contradicted), *self-contradictions* (claims of the completion that are each possible but
jointly impossible with the premises) and *episode contradictions* (with claims recalled from the
episode memory).  The score, in [0, 1]::

    raw   = (entailed − contradicted − malformed − premise_conflicts − self_contradictions
             − episode_contradictions) / claims
    score = (1 + clip(raw, −1, 1)) / 2

so 1 = every claim follows, 0.5 = nothing decided either way (undetermined claims are neutral),
0 = every claim is contradicted (or unreadable: a ```fol line that does not parse counts as
``malformed``).  Repeated claims count once.  The record's ``verdict`` is, in this order:
``malformed`` (no claim readable), ``contradicted`` (some claim), ``self_contradictory``,
``contradicts_episode``, ``entailed`` (every claim), else ``undetermined``.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field

from chil_core import Evidence, Framework, FrameworkResult, Record, ToolCall, ToolResult
from chil_core.capabilities.logic_program import Literal as Lit
from chil_core.capabilities.logic_program import Theory
from chil_plugin_consistency.claims import Claim, Job, Problem, build_job, render


class ConsistencyOptions(BaseModel):
    """Options of the consistency framework (``[frameworks.consistency.options]``)."""

    model_config = ConfigDict(extra="forbid")

    max_claims: int = Field(default=32, ge=1, le=1000, description="Claims judged per record; more are dropped (noted).")
    max_pair_checks: int = Field(default=64, ge=0, description="Controlled English: single/pair consistency checks per record.")
    memory: bool = Field(default=True, description="Check claims against the episode memory when a text_index backend is set.")
    memory_recall: int = Field(default=16, ge=1, le=500, description="Earlier claims recalled per record.")


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

    async def score(self, record: Record, ctx: Any) -> FrameworkResult:
        job = build_job(record, self.options.max_claims)
        if isinstance(job, Problem):
            return FrameworkResult(status=job.status, explanation=job.message)
        capability = "smt" if job.mode == "fol" else "logic_program"
        if not ctx.has(capability):
            return FrameworkResult.abstained(f"no {capability} backend is configured for {job.mode} claims")
        episode = _episode(record)
        recalled = await self._recall(record, job, episode, ctx)
        if job.mode == "fol":
            outcome = await self._judge_fol(job, recalled, ctx)
        else:
            outcome = await self._judge_english(job, recalled, ctx)
        if isinstance(outcome, FrameworkResult):
            return outcome
        if episode is not None and self.options.memory and ctx.has("text_index"):
            await self._remember(record, job, episode, ctx, outcome)
        return _result(job, outcome, ctx.backend(capability))

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
        keep = [c.memo() for c, v in zip(job.claims, outcome.verdicts, strict=True) if c.data is not None and v != "malformed"]
        if keep:
            res = await ctx.call("text_index", "add", {"episode": episode, "record": record.id, "claims": keep})
            if not res.ok:
                job.notes.append(f"claims not stored in the episode memory ({res.status}: {res.error})")

    # -- first-order logic -------------------------------------------------------------------
    async def _judge_fol(self, job: Job, recalled: list[Claim], ctx: Any) -> _Outcome | FrameworkResult:
        judged = [i for i, c in enumerate(job.claims) if c.data is not None]
        asts = [job.claims[i].data for i in judged] + [r.data for r in recalled]
        verdicts = ["malformed"] * len(job.claims)
        cores: list[list[int]] = [[] for _ in job.claims]
        if not asts:
            return _Outcome(verdicts, cores)
        res = await ctx.call("smt", "fol", {"premises": job.premises_fol, "claims": asts, "joint": True})
        if not res.ok:
            return _tool_failure(res, "smt")
        value = res.value
        if value["premises_consistent"] is False:
            core = [job.premise_texts[i] for i in value.get("premise_core", [])]
            return FrameworkResult.abstained(
                "the premises contradict each other, so every claim would follow",
                evidence=[Evidence(kind="unsat_core", text="inconsistent premises: " + " ; ".join(core),
                                   data={"premises": value.get("premise_core", [])})])
        for k, i in enumerate(judged):
            verdicts[i] = value["claims"][k]["verdict"]
            cores[i] = value["claims"][k]["core"]
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
        theory = job.theory
        assert theory is not None
        claims = job.claims + recalled
        lits = [c.literal for c in claims]
        results = await ctx.call_many([_decide(theory, (), lits), _decide(theory, lits, [])])
        for res in results:
            if not res.ok:
                return _tool_failure(res, "logic_program")
        first, joint = results[0].value, results[1].value
        if not first["consistent"]:
            return FrameworkResult.abstained(
                "the premises contradict each other",
                evidence=[Evidence(kind="clash", text=f"the premises derive {_both_ways(first['clashes'])}", data=first)])
        answers = first["answers"]
        mine = len(job.claims)
        out = _Outcome(list(answers[:mine]), [[] for _ in job.claims])
        if joint["consistent"]:
            return out
        # Jointly inconsistent: find the undetermined claims that cannot hold with the premises on
        # their own, then the pairs that cannot hold together (entailed claims add nothing derivable).
        open_ = [i for i, a in enumerate(answers) if a == "undetermined"]
        singles = open_[: self.options.max_pair_checks]
        single_res = await ctx.call_many([_decide(theory, [lits[i]], []) for i in singles])
        bad = set()
        for i, r in zip(singles, single_res, strict=True):
            if r.ok and not r.value["consistent"]:
                bad.add(i)
                if i < mine:
                    out.premise_conflicts.append(i)
                    out.evidence.append(_clash_evidence([claims[i].text], r.value["clashes"], "with the premises"))
        good = [i for i in open_ if i not in bad]
        pairs = [(a, b) for a, b in itertools.combinations(good, 2) if a < mine]
        budget = max(self.options.max_pair_checks - len(singles), 0)
        if len(pairs) > budget:
            job.notes.append(f"{len(pairs) - budget} claim pair(s) not checked (max_pair_checks)")
            pairs = pairs[:budget]
        pair_res = await ctx.call_many([_decide(theory, [lits[a], lits[b]], []) for a, b in pairs])
        for (a, b), r in zip(pairs, pair_res, strict=True):
            if not (r.ok and not r.value["consistent"]):
                continue
            if b < mine:
                out.self_conflicts.append([a, b])
            else:
                out.episode_conflicts.append((a, claims[b]))
            out.evidence.append(_clash_evidence([claims[a].text, claims[b].text], r.value["clashes"], "together"))
        return out


# -- helpers ------------------------------------------------------------------------------------
def _episode(record: Record) -> str | None:
    ep = (record.metadata or {}).get("episode", record.group)
    return str(ep) if ep not in (None, "") else None


def _both_ways(clashes: list[dict[str, Any]]) -> str:
    return ", ".join(f"{render(_lit(c))} and ¬{render(_lit(c))}" for c in clashes)


def _clash_evidence(texts: list[str], clashes: list[dict[str, Any]], how: str) -> Evidence:
    return Evidence(kind="clash", text=f"{' + '.join(repr(t) for t in texts)} {how} derive {_both_ways(clashes)}",
                    data={"claims": texts, "clashes": clashes})


def _lit(data: dict[str, Any]) -> Lit:
    return Lit(data["pred"], tuple(data["args"]), bool(data.get("neg", False)))


def _decide(theory: Theory, extra_facts: Any, queries: list[Lit]) -> ToolCall:
    payload = theory.to_json()
    if extra_facts:
        payload["facts"] = payload["facts"] + [lit.to_json() for lit in extra_facts]
    return ToolCall(capability="logic_program", op="decide",
                    payload={"theory": payload, "queries": [q.to_json() for q in queries]})


def _tool_failure(res: ToolResult, capability: str) -> FrameworkResult:
    if res.status == "unavailable":
        return FrameworkResult.abstained(f"{capability} backend unavailable: {res.error}")
    status = "timeout" if res.status == "timeout" else "error"
    return FrameworkResult.failed(f"{capability} backend {res.backend or '?'} failed: {res.error}", status)


def _result(job: Job, out: _Outcome, backend: str | None) -> FrameworkResult:
    counts = {v: out.verdicts.count(v) for v in ("entailed", "contradicted", "undetermined", "unknown", "malformed", "both")}
    n = len(job.claims)
    contradicted = counts["contradicted"] + counts["both"]
    p, k, m = len(out.premise_conflicts), len(out.self_conflicts), len(out.episode_conflicts)
    raw = (counts["entailed"] - contradicted - counts["malformed"] - p - k - m) / n
    score = (1.0 + max(-1.0, min(1.0, raw))) / 2.0
    if counts["malformed"] == n:
        verdict = "malformed"
    elif contradicted:
        verdict = "contradicted"
    elif k:
        verdict = "self_contradictory"
    elif m:
        verdict = "contradicts_episode"
    elif counts["entailed"] == n:
        verdict = "entailed"
    else:
        verdict = "undetermined"
    evidence: list[Evidence] = []
    for claim, v, core in zip(job.claims, out.verdicts, out.cores, strict=True):
        data: dict[str, Any] = {"verdict": v, "claim": claim.text}
        text = f"{v}: {claim.text}"
        if claim.error:
            data["error"] = claim.error
            text += f" ({claim.error})"
        if core:
            data["premises"] = core
            text += " | from: " + " ; ".join(job.premise_texts[i] for i in core)
        evidence.append(Evidence(kind="unsat_core" if core else "claim", text=text, data=data))
    for group in out.self_conflicts:
        texts = [job.claims[i].text for i in group]
        evidence.append(Evidence(kind="contradiction", text=" contradicts ".join(repr(t) for t in texts),
                                 data={"claims": texts, "source": "completion"}))
    for i, earlier in out.episode_conflicts:
        evidence.append(Evidence(kind="contradiction", text=f"{job.claims[i].text!r} contradicts {earlier.text!r} "
                                 f"claimed earlier in the episode (record {earlier.record})",
                                 data={"claims": [job.claims[i].text, earlier.text], "source": "episode", "record": earlier.record}))
    evidence.extend(out.evidence)
    premises = len(job.premises_fol) if job.theory is None else len(job.theory.facts) + len(job.theory.rules)
    components = {
        "claims": float(n), "entailed": float(counts["entailed"]), "contradicted": float(contradicted),
        "undetermined": float(counts["undetermined"] + counts["unknown"]), "malformed": float(counts["malformed"]),
        "premise_conflicts": float(p), "self_contradictions": float(k), "episode_contradictions": float(m),
        "premises": float(premises),
    }
    if job.premises_skipped:
        components["premises_skipped"] = float(job.premises_skipped)
    notes = "; ".join(job.notes)
    explanation = f"{job.mode} via {backend}: {verdict}" + (f" ({notes})" if notes else "")
    return FrameworkResult.scored(score, components=components, verdict=verdict, evidence=evidence, explanation=explanation)
