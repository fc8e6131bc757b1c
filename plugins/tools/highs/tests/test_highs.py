"""The highs solver backend against the shared solver conformance suite (sample models with exact optima,
hostile payloads, the time limit, agreement with the other installed solver backends)."""

from chil_plugin_highs.tool import HighsSolver

from chil_core.testing.solver import SolverConformance


class TestHighsSolver(SolverConformance):
    tool_class = HighsSolver
