"""Backends as Ray actors (a local Ray instance started here): the same verdicts as process isolation,
the scheduler's cache still in front, a killed actor replaced and its calls retried, timeouts typed.

Workload: FOLIO validation-dev (gold FOL, ``smt:z3`` through the consistency framework) with the right
label and a wrong one as completions."""

from __future__ import annotations

import importlib.util
import os
import signal
import threading
import time
from pathlib import Path

import pytest

ray = pytest.importorskip("ray")

from chil_core.scoring import Scorer  # noqa: E402

# the benchmark's FOLIO records (right and wrong answer per problem), loaded as test_faults loads its benchmark
_spec = importlib.util.spec_from_file_location("chil_bench_ray", Path(__file__).resolve().parents[2] / "benchmarks" / "bench_ray.py")
bench_ray = importlib.util.module_from_spec(_spec)  # type: ignore[arg-type]
_spec.loader.exec_module(bench_ray)  # type: ignore[union-attr]
folio_records = bench_ray.folio_records

pytestmark = pytest.mark.slow  # starting Ray takes 10-40 s on this machine


def config(**scheduler) -> dict:
    # the record cache off: a second pass must be answered by the tool-call cache in front of the actors
    # (consistency's records are cached per record too, which would answer it before any call is made)
    return {"cache": {"path": "", "records": False}, "frameworks": {"consistency": {"tools": {"smt": "z3"}}},
            "scheduler": scheduler}


@pytest.fixture(scope="module")
def local_ray():
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, configure_logging=False)
    yield
    ray.shutdown()


@pytest.fixture(scope="module")
def baseline():
    records = folio_records(12)
    with Scorer.from_config(config(), frameworks=["consistency"]) as s:
        return records, [(r.reward, r.frameworks["consistency"].status) for r in s.score(records)]


def _runner(scorer: Scorer):
    return scorer.scheduler.backends[("smt", "z3")]._runner


def test_same_verdicts_as_process_isolation_and_cache_in_front(local_ray, baseline):
    records, expected = baseline
    assert sum(1 for r, _ in expected if r == 1.0) >= 6  # right labels are paid (the prover agrees on most)
    with Scorer.from_config(config(ray_address="auto", replicas=2, max_batch=3), frameworks=["consistency"]) as s:
        got = [(r.reward, r.frameworks["consistency"].status) for r in s.score(records)]
        assert got == expected
        stats = s.stats()["smt:z3"]
        assert stats["batches"] >= 4 and stats["mean_batch"] <= 3  # micro-batched onto the actors
        assert len(_runner(s).pids) == 2  # two actors served them
        again = s.score(records)
        assert [(r.reward, r.frameworks["consistency"].status) for r in again] == expected
        assert s.stats()["smt:z3"]["cache_hits"] >= stats["calls"] - stats["dedup_hits"]
        assert s.stats()["smt:z3"]["batches"] == stats["batches"]  # nothing went to Ray the second time


def test_a_killed_actor_is_replaced_and_its_calls_retried(local_ray, baseline):
    records, expected = baseline
    with Scorer.from_config(config(ray_address="auto", replicas=2, max_batch=1, concurrency=2),
                            frameworks=["consistency"]) as s:
        fut = s.submit(records)
        runner_box: list = []

        def killer() -> None:
            deadline = time.monotonic() + 120
            while time.monotonic() < deadline:
                backend = s.scheduler.backends[("smt", "z3")]
                r = backend._runner
                if r is not None and len(r.pids) >= 1 and backend.stats.batches >= 2:
                    runner_box.append(r)
                    os.kill(next(iter(r.pids.values())), signal.SIGKILL)
                    return
                time.sleep(0.01)

        t = threading.Thread(target=killer)
        t.start()
        got = fut.result(timeout=300)  # nothing hangs
        t.join()
        assert runner_box, "no actor was killed"
        assert [(r.reward, r.frameworks["consistency"].status) for r in got] == expected  # every call accounted for
        runner = runner_box[0]
        assert runner.restarts >= 1 and runner.retried >= 1


def test_a_batch_over_its_timeout_is_a_typed_timeout(local_ray, baseline):
    records, _ = baseline
    with Scorer.from_config(config(ray_address="auto", replicas=1, timeout_s=0.001), frameworks=["consistency"]) as s:
        t0 = time.monotonic()
        got = s.score(records[:4])
        assert time.monotonic() - t0 < 120
        assert {r.frameworks["consistency"].status for r in got} <= {"timeout", "error"}
        assert all(r.frameworks["consistency"].status == "timeout" for r in got)
        st = s.stats()["smt:z3"]
        assert st["timeouts"] == st["calls"] - st["dedup_hits"] - st["cache_hits"] >= 1  # each distinct call once
        assert _runner(s).restarts >= 1
