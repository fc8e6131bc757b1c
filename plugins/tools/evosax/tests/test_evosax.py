"""The evosax optimizer backend against the shared optimizer conformance suite."""

from __future__ import annotations

import pytest
from chil_plugin_evosax.tool import EvosaxOptimizer

from chil_core.testing.optimizer import OptimizerConformance

pytestmark = pytest.mark.slow  # JAX import and compilation: about 30 s here


class TestEvosaxOptimizer(OptimizerConformance):
    tool_class = EvosaxOptimizer
