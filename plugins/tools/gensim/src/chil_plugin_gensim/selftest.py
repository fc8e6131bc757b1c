"""``chil doctor``'s self-test cases for embedding:gensim and topic_model:lda: the shared cases of each
capability (``chil_core.testing.selfcases``: gold answers, mutated negatives, hostile payloads).
Their answers need a trained model (``[tools.gensim] model = ...``, written by ``chil index --embedding
gensim``; ``[tools.lda] model = ...``, written by ``chil topics``): without one every case fails with
that message, which is what ``chil doctor`` should say.
"""

from chil_core import hookimpl


@hookimpl
def chil_self_tests():  # type: ignore[no-untyped-def]
    from chil_core.testing.selfcases import capability_cases

    return capability_cases("embedding:gensim") + capability_cases("topic_model:lda")
