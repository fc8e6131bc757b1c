"""The ortools solver backend against the shared solver conformance suite (sample models with exact optima,
hostile payloads, the time limit, agreement with the other installed solver backends)."""

from chil_plugin_ortools.tool import OrToolsSolver

from chil_core.testing.solver import SolverConformance


class TestOrToolsSolver(SolverConformance):
    tool_class = OrToolsSolver
