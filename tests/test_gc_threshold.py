"""The Scorer raises the garbage collector's first threshold while a batch is scored and gives the
process its own thresholds back afterwards: after a batch, after a malformed record, after a framework
that raised, with batches in flight at once, and not over a threshold someone else set meanwhile."""

from __future__ import annotations

import gc
import threading
import types
from typing import ClassVar

import pytest

from chil_core import Framework, FrameworkResult, hookimpl
from chil_core.plugins import PluginManager
from chil_core.scoring import GC_THRESHOLD0, RecordError, Scorer


class Seen(Framework):
    """Records the GC threshold it runs under; ``metadata.raise`` makes it raise; ``metadata.wait``
    makes it wait for ``Seen.gate``."""

    name: ClassVar[str] = "gcseen"
    capabilities: ClassVar[dict[str, bool]] = {}
    thresholds: ClassVar[list[int]] = []
    gate = threading.Event()

    async def score(self, record, ctx):
        Seen.thresholds.append(gc.get_threshold()[0])
        if record.metadata.get("raise"):
            raise RuntimeError("a framework bug")
        if record.metadata.get("wait"):
            import asyncio

            while not Seen.gate.is_set():
                await asyncio.sleep(0.005)
        return FrameworkResult.scored(1.0)


@pytest.fixture
def scorer():
    pm = PluginManager(autoload=False)
    pm.load_entry_points()
    pm.add_plugin(types.SimpleNamespace(chil_register_frameworks=hookimpl(lambda register: register(Seen))), "gcseen")
    Seen.thresholds.clear()
    Seen.gate.clear()
    old = gc.get_threshold()
    gc.set_threshold(1234, 11, 12)
    try:
        with Scorer.from_config({"frameworks": {"gcseen": {}}, "cache": {"enabled": False}}, plugin_manager=pm) as s:
            yield s
    finally:
        gc.set_threshold(*old)


def rec(i: int, **metadata) -> dict:
    return {"id": str(i), "prompt": "p", "completion": f"c{i}", "metadata": metadata}


def test_raised_while_scoring_and_restored_after(scorer) -> None:
    out = scorer.score([rec(i) for i in range(5)])
    assert [r.reward for r in out] == [1.0] * 5
    assert set(Seen.thresholds) == {GC_THRESHOLD0}
    assert gc.get_threshold() == (1234, 11, 12)


def test_restored_after_a_malformed_record_and_a_framework_that_raised(scorer) -> None:
    with pytest.raises(RecordError):
        scorer.score([rec(0), {"id": "1", "prompt": "p", "completion": 5}])
    assert gc.get_threshold() == (1234, 11, 12)
    (r,) = scorer.score([rec(0, **{"raise": True})])
    assert r.frameworks["gcseen"].status == "error" and Seen.thresholds == [GC_THRESHOLD0]
    assert gc.get_threshold() == (1234, 11, 12)


def test_batches_in_flight_at_once_restore_when_the_last_is_done(scorer) -> None:
    slow = scorer.submit([rec(0, wait=True)])
    fast = scorer.submit([rec(1)]).result(timeout=30)
    assert fast[0].reward == 1.0 and not slow.done()
    assert gc.get_threshold()[0] == GC_THRESHOLD0  # the slow batch is still being scored
    Seen.gate.set()
    assert slow.result(timeout=30)[0].reward == 1.0
    assert gc.get_threshold() == (1234, 11, 12)


def test_a_threshold_set_during_a_batch_is_kept(scorer) -> None:
    slow = scorer.submit([rec(0, wait=True)])
    gc.set_threshold(999, 5, 5)  # the user's own choice, while the batch runs
    Seen.gate.set()
    slow.result(timeout=30)
    assert gc.get_threshold() == (999, 5, 5)
