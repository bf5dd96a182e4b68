"""Collection: sample solutions on GPUs (vLLM) or CPU/GPU (transformers), grade them, score them with
reward models, run tree search, and write sample tables that :mod:`scaling` reads."""
