"""Character-level tokenizer of the bundled model family, built with the ``tokenizers`` library.

Vocabulary: special tokens ``<|endoftext|>`` (bos/eos), ``<|pad|>``, ``<|unk|>``; a few whole-string tokens
for the task's fixed phrases (``"Evaluate left to right: "``, ``"Step "``, ``"The answer is "``, the step
delimiter ``"\\n\\n"``) and the process-reward-model tokens (step tag ``"ки"``); then one token per character
of printable ASCII plus newline, so any ASCII text round-trips (other characters map to ``<|unk|>``).
``"+"`` and ``"-"`` are ordinary characters and double as the PRM's good/bad labels.

>>> tok = build_tokenizer()
>>> tok.decode(tok("Step 1: 2+3=5")["input_ids"])
'Step 1: 2+3=5'
"""

from __future__ import annotations

import string

from tokenizers import Regex, Tokenizer, decoders, models, pre_tokenizers
from transformers import PreTrainedTokenizerFast

from collect.family.task import ANSWER_PREFIX, PREFIX, STEP_DELIMITER

EOS = "<|endoftext|>"
PAD = "<|pad|>"
UNK = "<|unk|>"
STEP_TAG = "ки"
PHRASES = [PREFIX, "Step ", ANSWER_PREFIX, STEP_DELIMITER, STEP_TAG]
CHARS = [c for c in string.printable if c not in "\t\r\x0b\x0c"]  # digits, letters, punctuation, " ", "\n"


def build_tokenizer() -> PreTrainedTokenizerFast:
    """The family's tokenizer as a transformers fast tokenizer (deterministic; no training data needed)."""
    vocab = {t: i for i, t in enumerate([EOS, PAD, UNK] + CHARS)}
    tk = Tokenizer(models.WordLevel(vocab=vocab, unk_token=UNK))
    tk.pre_tokenizer = pre_tokenizers.Split(Regex(r"[\s\S]"), behavior="isolated")
    tk.decoder = decoders.Fuse()
    tk.add_special_tokens([EOS, PAD, UNK])
    tk.add_tokens(PHRASES)
    return PreTrainedTokenizerFast(tokenizer_object=tk, bos_token=EOS, eos_token=EOS, pad_token=PAD,
                                   unk_token=UNK, model_max_length=512, padding_side="left",
                                   clean_up_tokenization_spaces=False)
