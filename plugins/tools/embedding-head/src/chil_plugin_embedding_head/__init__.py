"""chil-plugin-embedding-head: the ``sentiment:embedding-head`` backend and ``chil fit-sentiment``.
Light entry point: numpy and the embedding backend load when the tool starts or the command runs."""

from chil_core import hookimpl
from chil_plugin_embedding_head.selftest import chil_self_tests  # noqa: F401  (chil doctor's cases)


@hookimpl
def chil_register_tools(register):  # type: ignore[no-untyped-def]
    from chil_plugin_embedding_head.tool import EmbeddingHeadSentiment

    register(EmbeddingHeadSentiment)


@hookimpl
def chil_register_commands(cli):  # type: ignore[no-untyped-def]
    from chil_plugin_embedding_head.command import fit_sentiment

    cli.add_command(fit_sentiment, "fit-sentiment")
