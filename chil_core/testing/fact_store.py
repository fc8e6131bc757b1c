"""Conformance suite of the ``fact_store`` capability (op ``lookup``), and a reference backend.

A backend's tests subclass :class:`FactStoreConformance`::

    from chil_core.testing.fact_store import FactStoreConformance

    class TestMyStore(FactStoreConformance):
        tool_class = MyStore
        backend_options = {}          # options the backend needs besides the triples (a database path...)

Every backend answers the shared :data:`SEMANTICS` cases exactly, and gives the verdicts, reasons and
rows of :class:`ReferenceFactStore` (the contract computed in plain Python) on real knowledge graphs
(``countries_kg`` and, in the slow run, ``wn18rr`` from the shared data folder); so any two backends
that pass agree with each other.
"""

from __future__ import annotations

import os
import random
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any, ClassVar

import pytest

from chil_core.capabilities.fact_store import FactStoreTool, load_triples, transitive_closure
from chil_core.components import Tool
from chil_core.contracts import ToolCall
from chil_core.testing.conformance import ToolConformance, _norm

DATA = Path(os.environ.get("CHIL_DATA", Path(__file__).resolve().parents[2].parent / "shared" / "data"))
COUNTRIES_OPTIONS = {"symmetric": ["neighbor"], "transitive": ["locatedin"], "functional": ["locatedin"]}
WN18RR_OPTIONS = {"transitive": ["_hypernym"], "max_hops": 3, "functional": ["_synset_domain_topic_of"],
                  "symmetric": ["_derivationally_related_form", "_similar_to", "_verb_group", "_also_see"]}


def lookup(s: Any, r: Any, o: Any) -> ToolCall:
    return ToolCall(capability="fact_store", op="lookup", payload={"subject": s, "relation": r, "object": o})


#: inline triples, options and (lookup, verdict) pairs: the contract's rules, one case each.
SEMANTICS_OPTIONS: dict[str, Any] = {
    "triples": [["a", "in", "b"], ["b", "in", "c"], ["c", "in", "d"], ["x", "next", "y"], ["x", "next", "z", "false"],
                ["q", "capital", "r"], ["p", "likes", "t"], ["p", "not_likes", "t"], ["San Marino", "in", "Europe"]],
    "transitive": ["in"], "symmetric": ["next"], "functional": ["capital"], "max_hops": 2}
SEMANTICS: list[tuple[ToolCall, str]] = [
    (lookup("a", "in", "b"), "supported"),            # stored
    (lookup("a", "in", "c"), "supported"),            # transitive, 2 hops
    (lookup("a", "in", "d"), "unknown"),              # 3 hops > max_hops
    (lookup("y", "next", "x"), "supported"),          # symmetric
    (lookup("z", "next", "x"), "refuted"),            # symmetric negative
    (lookup("q", "capital", "s"), "refuted"),         # functional, another object stored
    (lookup("q", "capital", "r"), "supported"),
    (lookup("m", "in", "n"), "unknown"),              # nothing known
    (lookup("a", "nope", "b"), "unknown"),
    (lookup("p", "likes", "t"), "unknown"),           # the fact and its negation
    (lookup("san marino", "IN", "europe!"), "supported"),  # terms compared normalized
]

HOSTILE_TERMS = ["Robert'); DROP TABLE facts;--", "x' OR '1'='1", "a> } ; DELETE WHERE { ?s ?p ?o } #",
                 '"; CLEAR ALL; "', "<urn:x>"]
#: (call, expected "verdict" or "error: <prefix>"): injections are plain (unknown) terms, bad payloads errors.
HOSTILE: list[tuple[ToolCall, str]] = [
    *[(lookup(h, "r", h), "unknown") for h in HOSTILE_TERMS],
    (ToolCall(capability="fact_store", op="lookup", payload={"subject": "a", "relation": "r"}), "error: payload.object"),
    (lookup(1, "r", "b"), "error: payload.subject"),
    (lookup("a", "r", "x" * 5_000), "error: payload.object"),
    (ToolCall(capability="fact_store", op="drop", payload={}), "error: fact_store has no op 'drop'"),
    (lookup("a", "r", "b"), "supported"),  # the store survived all of the above
]


class ReferenceFactStore(FactStoreTool):
    """The ``fact_store`` contract in plain Python dictionaries: what every backend must answer."""

    name: ClassVar[str] = "reference"
    description: ClassVar[str] = "Plain-Python fact store (the conformance suite's reference; not for production)."
    isolation = "inline"

    def start(self) -> None:
        triples = load_triples(self.options)
        self.truths: dict[tuple[str, str, str], set[bool]] = {}
        self.objects: dict[tuple[str, str], list[str]] = {}
        for s, r, o, t in triples:
            self.truths.setdefault((s, r, o), set()).add(t)
            if t:
                self.objects.setdefault((s, r), []).append(o)
        self.paths = set(transitive_closure(triples, self.options))
        self.props = self.options.relation_props()

    def query(self, lookups: list[tuple[int, tuple[str, str, str]]]) -> Iterable[Sequence[Any]]:
        for i, (s, r, o) in lookups:
            functional, symmetric, _ = self.props.get(r, (False, False, False))
            for t in self.truths.get((s, r, o), ()):
                yield i, "pos" if t else "neg", o
            if symmetric:
                for t in self.truths.get((o, r, s), ()):
                    yield i, "pos" if t else "neg", s
            if functional:
                yield from ((i, "other", x) for x in self.objects.get((s, r), ()) if x != o)
            if (s, r, o) in self.paths:
                yield i, "path", o


def _rows(path: Path) -> list[list[str]]:
    return [line.split("\t") for line in path.read_text(encoding="utf-8").split("\n") if line]


def countries_case(rng: random.Random) -> tuple[dict[str, Any], list[ToolCall]]:
    """countries_kg S1: held-out regions, stored and random facts, reversed display names, injections."""
    root = DATA / "countries_kg" / "countries_S1"
    if not root.is_dir():
        pytest.skip(f"development data {root} is absent (set CHIL_DATA to the shared data folder)")
    train, test = _rows(root / "train.txt"), _rows(root / "test.txt")
    entities = sorted({t[0] for t in train} | {t[2] for t in train})
    calls = [lookup(*t) for t in test + rng.sample(train, 100)]
    calls += [lookup(s, r, rng.choice(entities)) for s, r, _ in rng.sample(train, 100)]
    calls += [lookup(o.replace("_", " ").title(), r, s) for s, r, o in rng.sample(train, 50)]
    calls += [lookup(h, "neighbor", "france") for h in HOSTILE_TERMS]
    return {"path": [str(root / "train.txt")], **COUNTRIES_OPTIONS}, calls


def wn18rr_case(rng: random.Random) -> tuple[dict[str, Any], list[ToolCall]]:
    root = DATA / "wn18rr"
    if not root.is_dir():
        pytest.skip(f"development data {root} is absent (set CHIL_DATA to the shared data folder)")
    train, dev = _rows(root / "train.tsv"), _rows(root / "dev.tsv")
    entities = [t[0] for t in rng.sample(train, 2000)]
    calls = [lookup(*t) for t in rng.sample(dev, 200) + rng.sample(train, 200)]
    calls += [lookup(s, r, rng.choice(entities)) for s, r, _ in rng.sample(train, 200)]
    calls += [lookup(o, r, s) for s, r, o in rng.sample(train, 100)]
    return {"path": [str(root / "train.tsv")], **WN18RR_OPTIONS}, calls


def outcome(item: Any) -> Any:
    res = _norm(item)
    return res.value if res.status == "ok" else f"{res.status}: {res.error}"


class FactStoreConformance(ToolConformance):
    """Contract tests every ``fact_store`` backend passes (subclass it; set ``tool_class``)."""

    #: options the backend needs besides the fact-store ones (merged into every tool the suite makes).
    backend_options: ClassVar[dict[str, Any]] = {}
    options: ClassVar[dict[str, Any]] = SEMANTICS_OPTIONS

    def sample_calls(self) -> list[ToolCall]:
        return [call for call, _ in SEMANTICS]

    def hostile_calls(self) -> list[ToolCall]:
        return [call for call, _ in HOSTILE]

    def make_tool(self, **options: Any) -> Tool:
        merged = {**self.backend_options, **(options or self.options)}
        tool = self.tool_class(self.tool_class.Options.model_validate(merged))
        tool.start()
        return tool

    def answers(self, options: dict[str, Any], calls: list[ToolCall], cls: type[Tool] | None = None) -> list[Any]:
        if cls is None:
            tool = self.make_tool(**options)
        else:
            tool = cls(cls.Options.model_validate(options))
            tool.start()
        try:
            return [outcome(x) for x in tool.run_batch(calls)]
        finally:
            tool.close()

    def test_semantics_as_the_contract_says(self) -> None:
        self._skip_if_unavailable()
        calls = [call for call, _ in SEMANTICS]
        got = self.answers(SEMANTICS_OPTIONS, calls)
        want = self.answers(SEMANTICS_OPTIONS, calls, ReferenceFactStore)
        assert [v["verdict"] for v in want] == [v for _, v in SEMANTICS], "the reference disagrees with the cases"
        assert got == want

    def test_hostile_terms_and_bad_payloads(self) -> None:
        self._skip_if_unavailable()
        out = self.answers({"triples": [["a", "r", "b"]]}, [call for call, _ in HOSTILE])
        for (call, expected), got in zip(HOSTILE, out, strict=True):
            if expected.startswith("error: "):
                assert isinstance(got, str) and got.startswith(expected), f"{call.payload}: {got}"
            else:
                assert isinstance(got, dict) and got["verdict"] == expected, f"{call.payload}: {got}"

    def test_agrees_with_the_reference_on_countries(self) -> None:
        self._skip_if_unavailable()
        options, calls = countries_case(random.Random(0))
        got = self.answers(options, calls)
        assert got == self.answers(options, calls, ReferenceFactStore)
        verdicts = [v["verdict"] for v in got]
        assert {"supported", "refuted", "unknown"} <= set(verdicts)
        held_out = len(_rows(DATA / "countries_kg" / "countries_S1" / "test.txt"))
        assert verdicts[:held_out] == ["supported"] * held_out  # held-out regions follow by transitivity

    def test_a_process_isolated_pool_takes_whole_batches(self) -> None:
        """``isolation = "process"``: the answers of the direct calls (errors too), in whole batches
        (one worker message a batch, not one a call)."""
        self._skip_if_unavailable()
        import asyncio

        from chil_core.config import SchedulerSettings
        from chil_core.scheduler import Scheduler

        calls = [call for call, _ in SEMANTICS + HOSTILE if call.op == "lookup"]  # (the scheduler answers an unknown op)
        calls += [lookup(f"e{i}", "in", "b") for i in range(100)]
        options = {**self.backend_options, **SEMANTICS_OPTIONS}
        sched = Scheduler(None)
        name = self.tool_class.name
        run = SchedulerSettings(timeout_s=60, max_wait_ms=50, backends={name: {"isolation": "process"}}).for_tool(self.tool_class, name)
        backend = sched.add_backend(self.tool_class, self.tool_class.Options.model_validate(options).model_dump(mode="json"), run)

        async def go() -> list[Any]:
            return list(await asyncio.gather(*(backend.call(c) for c in calls)))

        try:
            got = [outcome(r) for r in asyncio.run(go())]
            stats = backend.stats_dict()
        finally:
            sched.close()
        want = self.answers(options, calls)
        differ = [(c.payload, g, w) for c, g, w in zip(calls, got, want, strict=True) if g != w]
        assert not differ, f"through a worker / direct: {differ[:3]}"
        assert stats["batched_calls"] == len(calls) and stats["worker_messages"] <= 3, f"{stats}"

    @pytest.mark.slow
    def test_agrees_with_the_reference_on_wn18rr(self) -> None:
        self._skip_if_unavailable()
        options, calls = wn18rr_case(random.Random(1))
        got = self.answers(options, calls)
        assert got == self.answers(options, calls, ReferenceFactStore)
        verdicts = [v["verdict"] for v in got]
        assert verdicts[200:400] == ["supported"] * 200
        assert {"supported", "refuted", "unknown"} <= set(verdicts)

