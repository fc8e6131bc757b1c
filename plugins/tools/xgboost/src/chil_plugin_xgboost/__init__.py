"""chil-plugin-xgboost: the ``predictor`` backend ``xgboost`` (CPU build, ``xgboost-cpu``).  Light entry
point: xgboost is imported when the tool starts or a model is fitted."""

from chil_core import hookimpl
from chil_plugin_xgboost.selftest import chil_self_tests  # noqa: F401  (chil doctor's cases)


@hookimpl
def chil_register_tools(register):  # type: ignore[no-untyped-def]
    from chil_plugin_xgboost.tool import XGBoostPredictor

    register(XGBoostPredictor)
