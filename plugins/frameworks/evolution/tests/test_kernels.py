"""Differential tests: every kernel implementation agrees with the pure-Python reference, on random
populations and on hostile ones (non-permutations, out-of-range cities, divisions by zero, overflow)."""

from __future__ import annotations

import numpy as np
import pytest
from chil_plugin_evolution import kernels as K

from chil_core.capabilities.expression import compile_expression

EXPRESSIONS = ["x", "3*x^2 - x + 1", "sin(x)*exp(-x^2)", "log(x)", "sqrt(x - 1)", "1/x", "x/(x-x)", "exp(x*800)",
               "(x*1e200)^2", "(-x)^0.5", "tanh(x) + abs(x) - cos(pi*x)", "x^-3", "tan(x)/e", "(x - 0.5)^16"]


def _impls() -> list[K.Kernels]:
    out = [K.NUMPY]
    native = K.native_kernels()
    if native is not None:
        out.append(native)
    return out


def _numba() -> K.Kernels:
    k = K.numba_kernels()
    if k is None:
        pytest.skip("numba is not installed")
    return k


def _inputs(seed: int = 0) -> dict[str, object]:
    rng = np.random.default_rng(seed)
    n, pop = 30, 40
    coords = rng.random((n, 2))
    tours = np.stack([rng.permutation(n) for _ in range(pop)]).astype(np.int64)
    tours[3, 5] = tours[3, 6]  # duplicate city
    tours[7, 0] = n  # out of range
    tours[8, 1] = -1
    values = rng.integers(1, 50, n).astype(np.int64)
    weights = rng.integers(1, 30, n).astype(np.int64)
    picks = rng.integers(0, 2, (pop, n)).astype(np.uint8)
    x = rng.uniform(-5.12, 5.12, (pop, 7))
    programs = [compile_expression(e, ["x"]) for e in EXPRESSIONS]
    points = np.ascontiguousarray(rng.uniform(-2, 2, (50, 1)))
    targets = 3 * points[:, 0] ** 2 - points[:, 0] + 1
    return {"coords": coords, "tours": tours, "values": values, "weights": weights, "picks": picks, "x": x,
            "programs": programs, "points": points, "targets": targets}


def _same(a: np.ndarray, b: np.ndarray) -> None:
    assert a.shape == b.shape
    assert np.array_equal(np.isnan(a), np.isnan(b)), (a, b)
    assert np.array_equal(np.isinf(a), np.isinf(b)), (a, b)
    fin = np.isfinite(a)
    np.testing.assert_allclose(a[fin], b[fin], rtol=1e-9, atol=1e-12)


def _check(kern: K.Kernels) -> None:
    d = _inputs()
    ref, got = K.PYTHON, kern
    _same(ref.tour_lengths(d["coords"], d["tours"]), got.tour_lengths(d["coords"], d["tours"]))
    assert np.isnan(got.tour_lengths(d["coords"], d["tours"])[[3, 7, 8]]).all()
    rv, rw = ref.knapsack(d["values"], d["weights"], d["picks"])
    gv, gw = got.knapsack(d["values"], d["weights"], d["picks"])
    assert rv.tolist() == gv.tolist() and rw.tolist() == gw.tolist()
    _same(ref.rastrigin(d["x"]), got.rastrigin(d["x"]))
    code, args, offsets = K.pack_programs(d["programs"])
    _same(ref.expr_mse(code, args, offsets, d["points"], d["targets"]), got.expr_mse(code, args, offsets, d["points"], d["targets"]))


@pytest.mark.parametrize("kern", _impls(), ids=lambda k: k.name)
def test_kernel_equals_the_python_reference(kern: K.Kernels) -> None:
    _check(kern)


@pytest.mark.slow
def test_numba_equals_the_python_reference() -> None:
    _check(_numba())


def test_the_reference_equals_the_core_fitness() -> None:
    """The kernels' Python reference and the contract's per-solution fitness are the same function."""
    import random

    from chil_core.capabilities.optimizer import Problem, fitness, random_solution

    rng = random.Random(0)
    tsp = Problem.from_json({"kind": "tsp", "seed": 1, "n": 25})
    tours = [random_solution(tsp, rng) for _ in range(10)]
    got = K.PYTHON.tour_lengths(np.asarray(tsp.instance().coords), np.asarray(tours, dtype=np.int64))
    assert got.tolist() == [fitness(tsp, t) for t in tours]
    ras = Problem.from_json({"kind": "rastrigin", "seed": 1, "dim": 4})
    xs = [random_solution(ras, rng) for _ in range(10)]
    assert K.PYTHON.rastrigin(np.asarray(xs)).tolist() == [fitness(ras, x) for x in xs]


def test_native_validates_malformed_programs() -> None:
    native = K.native_kernels()
    if native is None:
        pytest.skip(f"chil_native is not built here: {K.status()['native']}")
    points = np.zeros((3, 1))
    targets = np.zeros(3)
    bad = [  # stack underflow, variable out of range, unknown opcode, two values left
        (np.array([2], np.int32), np.array([0.0])),
        (np.array([1], np.int32), np.array([5.0])),
        (np.array([0, 99], np.int32), np.array([1.0, 0.0])),
        (np.array([0, 0], np.int32), np.array([1.0, 2.0])),
    ]
    for code, args in bad:
        out = native.expr_mse(code, args, np.array([0, len(code)], np.int64), points, targets)
        assert np.isnan(out).all()
    assert np.isnan(native.tour_lengths(np.zeros((4, 2)), np.array([[0, 1, 2]], np.int64))).all()


def test_select_and_status() -> None:
    st = K.status()
    assert st["auto"] in ("native", "numpy")
    assert (st["native"] == "ok") == (st["auto"] == "native")
    assert K.select("python") is K.PYTHON and K.select("numpy") is K.NUMPY


def test_chil_evolution_says_which_kernels_run() -> None:
    import json

    from click.testing import CliRunner

    from chil_core.cli import _attach_plugin_commands, cli

    _attach_plugin_commands()
    out = CliRunner().invoke(cli, ["evolution", "--json"])
    assert out.exit_code == 0, out.output
    st = json.loads(out.output)["kernels"]
    assert st == K.status()
    assert st["auto"] == ("native" if K.native_kernels() is not None else "numpy")
