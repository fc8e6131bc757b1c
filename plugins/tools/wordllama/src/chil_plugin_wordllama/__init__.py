"""chil-plugin-wordllama: the ``embedding:wordllama`` backend.  Light entry point: wordllama and numpy
load in ``Tool.start``."""

from chil_core import hookimpl


@hookimpl
def chil_register_tools(register):  # type: ignore[no-untyped-def]
    from chil_plugin_wordllama.tool import WordLlamaEmbedding

    register(WordLlamaEmbedding)
