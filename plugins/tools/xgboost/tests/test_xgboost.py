"""The xgboost predictor backend against the shared predictor conformance suite."""

from chil_plugin_xgboost.tool import XGBoostPredictor

from chil_core.testing.predictor import PredictorConformance


class TestXGBoostPredictor(PredictorConformance):
    tool_class = XGBoostPredictor
