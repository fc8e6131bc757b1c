"""The cma optimizer backend against the shared optimizer conformance suite."""

from __future__ import annotations

from chil_plugin_cma.tool import CmaOptimizer

from chil_core.testing.optimizer import OptimizerConformance


class TestCmaOptimizer(OptimizerConformance):
    tool_class = CmaOptimizer
