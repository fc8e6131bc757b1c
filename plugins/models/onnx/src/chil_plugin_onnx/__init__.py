"""chil-plugin-onnx: the ``model:onnx`` backend (ONNX Runtime) and ``chil model export``.
Light entry point: onnxruntime loads when a model is first used or the command runs."""

from chil_core import hookimpl

from .selftest import chil_self_tests  # noqa: F401  (chil doctor's cases)


@hookimpl
def chil_register_models(register):  # type: ignore[no-untyped-def]
    from chil_plugin_onnx.backend import OnnxRuntimeModel

    register(OnnxRuntimeModel)


@hookimpl
def chil_register_commands(cli):  # type: ignore[no-untyped-def]
    from chil_core.capabilities.model import model_group
    from chil_plugin_onnx.export import export

    model_group(cli).add_command(export, "export")
