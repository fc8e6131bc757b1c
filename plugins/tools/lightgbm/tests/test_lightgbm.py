"""The lightgbm predictor backend against the shared predictor conformance suite."""

from chil_plugin_lightgbm.tool import LightGBMPredictor

from chil_core.testing.predictor import PredictorConformance


class TestLightGBMPredictor(PredictorConformance):
    tool_class = LightGBMPredictor
