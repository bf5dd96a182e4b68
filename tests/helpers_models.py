"""Test fixtures: a character-level tokenizer built with ``tokenizers`` and tiny random-weight GPT-NeoX
models saved in Hugging Face format, so the collection code runs for real on CPU in milliseconds.

>>> tok_dir = build_tokenizer(tmp_path / "tok")          # doctest: +SKIP
>>> model_dir = build_model(tmp_path / "m", hidden=32)    # doctest: +SKIP
"""

from __future__ import annotations

import json
import string
from pathlib import Path

EOS = "<|endoftext|>"
PAD = "<|pad|>"
UNK = "<|unk|>"
STEP_TAG = "ки"

#: One token per printable ASCII character and newline, plus the PRM step tag and the Cyrillic letters
#: it is made of (so it also exists as a multi-token string in tokenizers without the added token).
CHARS = list(string.printable.replace("\x0b", "").replace("\x0c", "").replace("\r", "")) + ["к", "и"]


def build_tokenizer(out: Path, *, step_tag_token: bool = True):
    """A character-level tokenizer (WordLevel over single characters, fused on decode).

    With ``step_tag_token`` the PRM step tag ``"ки"`` is one added token; without it the tag is absent
    from the vocabulary entirely (its letters map to the unknown token), for the missing-tag error test.
    """
    from tokenizers import Regex, Tokenizer, decoders, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    chars = [c for c in CHARS if step_tag_token or c not in ("к", "и")]
    vocab = {EOS: 0, PAD: 1, UNK: 2}
    for c in chars:
        vocab.setdefault(c, len(vocab))
    tok = Tokenizer(models.WordLevel(vocab=vocab, unk_token=UNK))
    tok.pre_tokenizer = pre_tokenizers.Split(Regex(r"[\s\S]"), behavior="isolated")
    tok.decoder = decoders.Fuse()
    if step_tag_token:
        tok.add_tokens([STEP_TAG])
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, eos_token=EOS, pad_token=PAD, unk_token=UNK)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    fast.save_pretrained(out)
    return fast


def build_model(out: Path, *, hidden: int = 32, layers: int = 2, heads: int = 4, seed: int = 0,
                step_tag_token: bool = True, max_positions: int = 2048) -> Path:
    """Save a random-weight GPT-NeoX causal LM and the character tokenizer to ``out``."""
    import torch
    from transformers import GPTNeoXConfig, GPTNeoXForCausalLM

    out = Path(out)
    tok = build_tokenizer(out, step_tag_token=step_tag_token)
    torch.manual_seed(seed)
    config = GPTNeoXConfig(vocab_size=len(tok), hidden_size=hidden, num_hidden_layers=layers,
                           num_attention_heads=heads, intermediate_size=4 * hidden,
                           max_position_embeddings=max_positions, eos_token_id=tok.eos_token_id,
                           pad_token_id=tok.pad_token_id, bos_token_id=tok.eos_token_id,
                           tie_word_embeddings=False)
    model = GPTNeoXForCausalLM(config)
    model.save_pretrained(out)
    return out


def build_reward_model(out: Path, *, kind: str = "prm", step_tag_token: bool = True, **kw) -> Path:
    """A random-weight model folder with ``reward_config.json`` (Math-Shepherd style tags)."""
    out = build_model(out, step_tag_token=step_tag_token, **kw)
    (Path(out) / "reward_config.json").write_text(json.dumps(
        {"kind": kind, "step_tag": STEP_TAG, "good_token": "+", "bad_token": "-"}))
    return out


def write_task(path: Path, n: int = 6) -> Path:
    """A tiny arithmetic task file in the generic JSONL format (question, answer, id, level)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w") as fh:
        for i in range(n):
            a, b = 3 + i, 4 + 2 * i
            fh.write(json.dumps({"id": f"p{i}", "question": f"What is {a} + {b}?", "answer": str(a + b),
                                 "level": str(1 + i % 3)}) + "\n")
    return path
