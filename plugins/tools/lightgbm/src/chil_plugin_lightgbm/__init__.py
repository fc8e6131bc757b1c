"""chil-plugin-lightgbm: the ``predictor`` backend ``lightgbm``.  Light entry point: lightgbm is
imported when the tool starts or a model is fitted."""

from chil_core import hookimpl
from chil_plugin_lightgbm.selftest import chil_self_tests  # noqa: F401  (chil doctor's cases)


@hookimpl
def chil_register_tools(register):  # type: ignore[no-untyped-def]
    from chil_plugin_lightgbm.tool import LightGBMPredictor

    register(LightGBMPredictor)
