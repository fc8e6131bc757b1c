"""Issue 8: one slow or hostile record must not stall its neighbours, and the scorer exits cleanly."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import time
import types
from typing import ClassVar

import pytest

from chil_core import Framework, FrameworkResult, ToolCall, hookimpl
from chil_core.plugins import PluginManager
from chil_core.scoring import Scorer
from chil_core.testing.tools import ChaosThreadTool, ChaosTool


class EchoFramework(Framework):
    """Asks ``metadata.capability`` for ``metadata.op``; scored 1 when ok (custom ``score``: per record)."""

    name: ClassVar[str] = "echo"
    capabilities: ClassVar[dict[str, bool]] = {"noop": False, "chaos": False}

    async def score(self, record, ctx):
        md = record.metadata
        result = await ctx.call(md.get("capability", "chaos"), md.get("op", "echo"), md.get("payload", {}))
        if result.status == "ok":
            return FrameworkResult.scored(1.0)
        return FrameworkResult.failed(result.error or "", status="timeout" if result.status == "timeout" else "error")


class SlowParse(Framework):
    """Bulk path (extract + judge); extraction costs time proportional to the completion's length."""

    name: ClassVar[str] = "slowparse"
    capabilities: ClassVar[dict[str, bool]] = {"noop": False}

    def extract(self, record):
        time.sleep(len(record.completion) / 1e6)  # 1 s per million characters, holding the GIL-free sleep
        return [ToolCall(capability="noop", op="echo", payload={"n": len(record.completion)})]

    def judge(self, record, calls, results):
        return FrameworkResult.scored(1.0)


@pytest.fixture
def pm():
    manager = PluginManager(autoload=False)
    manager.load_entry_points()
    manager.add_plugin(types.SimpleNamespace(
        chil_register_frameworks=hookimpl(lambda register: (register(EchoFramework), register(SlowParse))),
        chil_register_tools=hookimpl(lambda register: (register(ChaosTool), register(ChaosThreadTool))),
    ), "robustplug")
    return manager


def rec(i, **md):
    return {"id": str(i), "prompt": "p", "completion": "c", "metadata": md}


def wait_all(futures, t0):
    latency, results = {}, {}
    pending = dict(futures)
    while pending:
        for rid, fut in list(pending.items()):
            if fut.done():
                latency[rid] = time.perf_counter() - t0
                results[rid] = fut.result()[0]
                del pending[rid]
        time.sleep(0.002)
    return latency, results


def test_a_hanging_call_does_not_stall_its_neighbours(pm):
    """Process pool: one call that hangs among 40 ordinary ones, each record submitted on its own.
    Before: the ordinary calls queued in the hung worker's batch waited out its timeout (and the
    halving retries, one timeout per round); now each ordinary record is answered in well under the
    timeout, and the hung one costs its own timeout once."""
    cfg = {"frameworks": {"echo": {"tools": {"chaos": "chaos"}}},
           "scheduler": {"timeout_s": 4.0, "max_wait_ms": 5}, "cache": {"enabled": False}}
    with Scorer.from_config(cfg, plugin_manager=pm) as s:
        s.score([rec("warm")])  # the first worker's start-up is not what is measured
        records = [rec("hang", op="sleep", payload={"s": 60})] + [rec(i, payload={"i": i}) for i in range(40)]
        t0 = time.perf_counter()
        latency, results = wait_all([(r["id"], s.submit([r])) for r in records], t0)
        stats = s.stats()["chaos:chaos"]
    ordinary = [latency[str(i)] for i in range(40)]
    assert all(results[str(i)].reward == 1.0 for i in range(40))
    assert max(ordinary) < 2.0, f"slowest ordinary record {max(ordinary):.2f}s"
    assert results["hang"].frameworks["echo"].status == "timeout"
    assert 3.9 < latency["hang"] < 4.0 + 2.0  # its own timeout, counted from when it started, once
    assert stats["timeouts"] == 1 and stats["worker_restarts"] == 1 and stats["worker_surges"] >= 1


def test_two_hung_calls_in_one_batch_cost_one_timeout_not_one_per_halving(pm):
    """Thread runner: a batch of 32 with two hanging calls.  Before: split-and-retry halved it five
    times, one timeout per round (≈ 6 timeouts); now the retry is per call, all at once."""
    cfg = {"frameworks": {"echo": {"tools": {"chaos": "chaos-thread"}}},
           "scheduler": {"timeout_s": 0.5, "max_wait_ms": 50, "concurrency": 4}, "cache": {"enabled": False}}
    records = [rec(i, payload={"i": i}) for i in range(30)]
    records[3] = rec(3, op="sleep", payload={"s": 2.5})
    records[20] = rec(20, op="sleep", payload={"s": 2.5})
    with Scorer.from_config(cfg, plugin_manager=pm) as s:
        t0 = time.perf_counter()
        out = {r.id: r for r in s.score(records)}
        wall = time.perf_counter() - t0
    assert out["3"].frameworks["echo"].status == "timeout" and out["20"].frameworks["echo"].status == "timeout"
    assert all(out[str(i)].reward == 1.0 for i in range(30) if i not in (3, 20))
    assert wall < 0.5 * 2 + 1.0, f"{wall:.2f}s"


def test_large_extraction_runs_off_the_event_loop(pm):
    """A 2 MB completion whose extraction takes 2 s: a tiny record submitted just after is scored at
    once (before: it waited for the big one's extraction on the event loop), and the big one times out
    at record_timeout_s instead of holding everything."""
    cfg = {"frameworks": {"slowparse": {"max_completion_chars": 5_000_000}},
           "scheduler": {"record_timeout_s": 1.0}, "cache": {"enabled": False}}
    with Scorer.from_config(cfg, plugin_manager=pm) as s:
        t0 = time.perf_counter()
        big = s.submit([{"id": "big", "prompt": "p", "completion": "x" * 2_000_000}])
        time.sleep(0.1)
        t1 = time.perf_counter()
        small = s.submit([{"id": "small", "prompt": "p", "completion": "c"}]).result(timeout=30)
        small_s = time.perf_counter() - t1
        big_r = big.result(timeout=30)[0]
        big_s = time.perf_counter() - t0
    assert small[0].reward == 1.0 and small_s < 0.5, f"tiny record waited {small_s:.2f}s"
    assert big_r.frameworks["slowparse"].status == "timeout" and big_s < 1.8


def test_oversize_completion_is_a_typed_verdict_unread(pm):
    cfg = {"frameworks": {"slowparse": {"max_completion_chars": 1000}, "echo": {"tools": {"chaos": "chaos-thread"}}},
           "cache": {"enabled": False}}
    with Scorer.from_config(cfg, plugin_manager=pm) as s:
        t0 = time.perf_counter()
        out = s.score([{"id": "big", "prompt": "p", "completion": "x" * 5_000_000, "metadata": {"op": "echo"}},
                       {"id": "ok", "prompt": "p", "completion": "fine", "metadata": {"op": "echo"}}])
        dt = time.perf_counter() - t0
    big = out[0].frameworks
    assert big["slowparse"].status == "scored" and big["slowparse"].score == 0.0 and big["slowparse"].verdict == "oversize"
    assert "max_completion_chars" in big["slowparse"].explanation
    # the default bound (100,000 characters) applies to a framework with no setting of its own
    assert big["echo"].verdict == "oversize" and out[0].reward == 0.0
    assert out[1].reward == 1.0 and dt < 1.0  # 5 s of extraction never ran


EXIT_SCRIPT = textwrap.dedent('''
    import sys, types, time
    from chil_core import hookimpl
    from chil_core.plugins import PluginManager
    from chil_core.scoring import Scorer
    from chil_core.testing.tools import ChaosThreadTool, ChaosTool
    import tests.test_robustness as t

    if __name__ == "__main__":
        pm = PluginManager(autoload=False); pm.load_entry_points()
        pm.add_plugin(types.SimpleNamespace(
            chil_register_frameworks=hookimpl(lambda register: register(t.EchoFramework)),
            chil_register_tools=hookimpl(lambda register: (register(ChaosTool), register(ChaosThreadTool)))), "x")
        hang, timeout = float(sys.argv[1]), float(sys.argv[2])
        for chaos in sys.argv[3].split(","):
            cfg = {"frameworks": {"echo": {"tools": {"chaos": chaos}}}, "scheduler": {"timeout_s": timeout}, "cache": {"enabled": False}}
            s = Scorer.from_config(cfg, plugin_manager=pm)
            s.submit([t.rec("hang", op="sleep", payload={"s": hang})])   # still running at close
            s.submit([t.rec("boom", op="raise")])
            print(s.score([t.rec(1)])[0].reward)
            s.close()  # waits at most 30 s for the calls in flight
        # a script that never closes its scorer, with calls in flight, exits too
        s = Scorer.from_config(cfg, plugin_manager=pm)
        s.submit([t.rec("hang", op="sleep", payload={"s": 2})])
        s.submit([t.rec("boom", op="raise")])
        print(s.score([t.rec(1)])[0].reward)
        print("closed")
''')


def check_clean_exit(tmp_path, hang: float, timeout: float, backends: str = "chaos,chaos-thread") -> None:
    script = tmp_path / "exit_check.py"
    script.write_text(EXIT_SCRIPT)
    from tests.conftest import REPO

    proc = subprocess.run([sys.executable, "-X", "dev", str(script), str(hang), str(timeout), backends], capture_output=True, text=True, timeout=300,
                          cwd=REPO, env={"PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin"})
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == ["1.0"] * (len(backends.split(",")) + 1) + ["closed"]
    for bad in ("Task was destroyed but it is pending", "Event loop is closed", "Future exception was never retrieved"):
        assert bad not in proc.stderr, proc.stderr


def test_exit_is_clean_with_calls_in_flight(tmp_path):
    check_clean_exit(tmp_path, hang=2, timeout=0.5)


@pytest.mark.slow
def test_exit_is_clean_when_a_call_outlasts_the_close(tmp_path):
    """A call still running when close() gives up waiting (30 s): before, the loop was stopped with its
    tasks pending and the interpreter printed "Task was destroyed but it is pending"."""
    check_clean_exit(tmp_path, hang=40, timeout=60, backends="chaos")


def test_replaced_thread_pools_do_not_keep_their_tools(pm):
    """Each timeout replaces the thread pool; before, every old thread's tool instance (for Z3: a whole
    context with everything it ever declared) stayed referenced for the rest of the run: memory grew
    with every timeout over a long run."""
    import gc

    cfg = {"frameworks": {"echo": {"tools": {"chaos": "chaos-thread"}}},
           "scheduler": {"timeout_s": 0.2, "concurrency": 1}, "cache": {"enabled": False}}
    with Scorer.from_config(cfg, plugin_manager=pm) as s:
        for k in range(6):
            out = s.score([rec(f"slow{k}", op="sleep", payload={"s": 0.4, "k": k})])
            assert out[0].frameworks["echo"].status == "timeout"
        time.sleep(0.6)  # the abandoned threads finish and exit
        assert s.score([rec("ok")])[0].reward == 1.0
        gc.collect()
        runner = s.scheduler.backend("chaos", "chaos-thread")._runner
        assert runner.abandoned == 6
        assert len(runner.tools) <= 2, len(runner.tools)


@pytest.mark.slow
def test_grounding_bomb_does_not_stall_ordinary_records():
    """The real reproduction: a 4-variable rule over 400 constants among 63 ProofWriter records, clingo,
    timeout_s = 10 (benchmarks/neighbour_stall.py: every ordinary record under 2 s, the bomb bounded,
    no asyncio warnings at exit).  Timing-sensitive: run it on a machine that is not saturated."""
    from tests.conftest import REPO

    pytest.importorskip("chil_plugin_clingo")
    proc = subprocess.run([sys.executable, str(REPO / "benchmarks" / "neighbour_stall.py")], capture_output=True,
                          text=True, timeout=600, cwd=REPO)
    assert proc.returncode == 0, proc.stdout + proc.stderr


@pytest.mark.slow
def test_soak_memory_is_flat():
    """benchmarks/soak.py at a reduced size (the full 10 x 20k is a benchmark, not a test).  At 2,000
    records a pass the main process still grows ~1 MB from pass 2 to 3 (bounded caches filling), which
    put the drift over passes 2..4 at 0.8-2.2 % against the 2 % bound, so the drift is measured over
    passes 3..5 (0.3 % up to pass 8 on this workload)."""
    from tests.conftest import REPO

    proc = subprocess.run([sys.executable, str(REPO / "benchmarks" / "soak.py"), "--passes", "5", "--warmup", "2",
                           "--records", "2000"],
                          capture_output=True, text=True, timeout=1800, cwd=REPO)
    assert proc.returncode == 0, proc.stdout + proc.stderr


#: a user's script as people write them: no ``if __name__ == "__main__":``, a process-isolated backend
NO_GUARD_SCRIPT = textwrap.dedent('''
    import types
    from chil_core import hookimpl
    from chil_core.plugins import PluginManager
    from chil_core.scoring import Scorer
    from chil_core.testing.tools import ChaosTool
    import tests.test_robustness as t

    print("script body ran", flush=True)
    pm = PluginManager(autoload=False); pm.load_entry_points()
    pm.add_plugin(types.SimpleNamespace(chil_register_frameworks=hookimpl(lambda register: register(t.EchoFramework)),
                                        chil_register_tools=hookimpl(lambda register: register(ChaosTool))), "x")
    cfg = {"frameworks": {"echo": {"tools": {"chaos": "chaos"}}}, "cache": {"enabled": False}, "scheduler": {"workers": 2}}
    with Scorer.from_config(cfg, plugin_manager=pm) as s:
        print(*(r.reward for r in s.score([t.rec(i, op="sleep", payload={"s": 0.3}) for i in range(2)])))
''')

#: a tool class defined in the script itself (guarded): its workers need the main module, and get it
MAIN_TOOL_SCRIPT = textwrap.dedent('''
    import types
    from chil_core import hookimpl
    from chil_core.plugins import PluginManager
    from chil_core.scoring import Scorer
    from chil_core.testing.tools import ChaosTool
    import tests.test_robustness as t

    class MainChaos(ChaosTool):
        name = "main-chaos"

    if __name__ == "__main__":
        pm = PluginManager(autoload=False); pm.load_entry_points()
        pm.add_plugin(types.SimpleNamespace(chil_register_frameworks=hookimpl(lambda register: register(t.EchoFramework)),
                                            chil_register_tools=hookimpl(lambda register: register(MainChaos))), "x")
        cfg = {"frameworks": {"echo": {"tools": {"chaos": "main-chaos"}}}, "cache": {"enabled": False}}
        with Scorer.from_config(cfg, plugin_manager=pm) as s:
            print(s.score([t.rec(1)])[0].reward)
''')


def _run_script(tmp_path, text: str, stdin: bool = False) -> subprocess.CompletedProcess[str]:
    from tests.conftest import REPO

    script = tmp_path / "user_script.py"
    script.write_text(text)
    argv = [sys.executable, "-"] if stdin else [sys.executable, str(script)]
    return subprocess.run(argv, input=text if stdin else None, capture_output=True, text=True, timeout=300, cwd=REPO,
                          env={"PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin"})


@pytest.mark.parametrize("stdin", [False, True], ids=["file", "stdin"])
def test_backend_workers_do_not_run_the_callers_script_again(tmp_path, stdin):
    """Before, every worker of a process-isolated backend ran the caller's main module again (as
    ``__mp_main__``): a script without a main guard scored its data again in each worker and failed
    there ("An attempt has been made to start a new process before the current process has finished
    its bootstrapping phase", a traceback a call); one fed on stdin printed ``FileNotFoundError: <stdin>``."""
    proc = _run_script(tmp_path, NO_GUARD_SCRIPT, stdin)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split("\n") == ["script body ran", "1.0 1.0", ""]  # the body ran once: in this process
    assert "Traceback" not in proc.stderr, proc.stderr


def test_a_tool_defined_in_the_main_module_still_runs_in_its_worker(tmp_path):
    proc = _run_script(tmp_path, MAIN_TOOL_SCRIPT)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == ["1.0"]
    assert "Traceback" not in proc.stderr, proc.stderr


def test_a_backend_worker_whose_scheduler_is_gone_ends_quietly(capfd):
    """The main process exited (or closed the pipe) while a worker ran a batch: its answer finds the pipe
    broken.  Before, the worker printed a BrokenPipeError traceback onto the main process's stderr
    (after a failed ``chil score``'s one error line); now it ends, exit code 0, silently."""
    import multiprocessing

    from chil_core import _worker

    ctx = multiprocessing.get_context("spawn")  # (a child of this process: its stderr is the captured one)
    parent, child = ctx.Pipe()
    proc = ctx.Process(target=_worker.serve, args=(child, "chil_core.testing.tools:ChaosTool", {}, None), daemon=True)
    proc.start()
    child.close()
    assert parent.poll(60) and parent.recv() == ("ready", None)
    parent.send([("chaos", "sleep", {"s": 0.5})])
    parent.close()  # gone before the answer
    proc.join(30)
    assert proc.exitcode == 0
    err = capfd.readouterr().err
    assert "Traceback" not in err and "BrokenPipeError" not in err, err
