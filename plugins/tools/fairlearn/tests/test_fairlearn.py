"""fairlearn backend: the fairness conformance suite (hand-computed sample within 1e-12, malformed
payloads, agreement with the exact backend on generated populations)."""

from __future__ import annotations

from chil_plugin_fairlearn.tool import FairlearnFairness

from chil_core.testing.fairness import FairnessConformance


class TestFairlearnConformance(FairnessConformance):
    tool_class = FairlearnFairness
    agreement_samples = 12
