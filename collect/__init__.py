"""Collection: sample solutions with vLLM (GPU or CPU) or transformers (CPU or GPU), grade them, score them
with reward models, run tree search, and write sample tables that :mod:`scaling` reads.

Vocabulary (:mod:`collect.params`): :class:`~collect.params.SamplingParams` (how to sample) and
:class:`~collect.params.EngineConfig` (which engine), shared by ``Engine.generate`` and the jobs
:func:`collect.sample.run_sample`, :func:`collect.score.run_score` and :func:`collect.search.run.run_search`
behind ``python -m collect sample|score|search``."""
