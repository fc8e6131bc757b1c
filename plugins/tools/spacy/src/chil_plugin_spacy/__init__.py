"""chil-plugin-spacy: ``nlp:spacy`` (trained pipeline) and ``nlp:spacy-blank`` (degraded fallback).
Light entry point: spaCy loads in ``Tool.start``."""

from chil_core import hookimpl
from chil_plugin_spacy.selftest import chil_self_tests  # noqa: F401  (chil doctor's cases)


@hookimpl
def chil_register_tools(register):  # type: ignore[no-untyped-def]
    from chil_plugin_spacy.tool import SpacyBlankNlp, SpacyNlp

    register(SpacyNlp)
    register(SpacyBlankNlp)
