"""``chil doctor``'s self-test cases for model:onnx: the demo model exported to ONNX (built and exported
in a temporary folder on first use; the default FP32 graph) gives the right labels; malformed payloads come back typed."""

from chil_core import hookimpl


@hookimpl
def chil_self_tests():  # type: ignore[no-untyped-def]
    from chil_plugin_transformers.selftest import model_cases

    return model_cases("onnx", export=True)
