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


#: Where trained test models are kept between runs (git-ignored); a folder per settings key.
MODEL_CACHE = Path(__file__).resolve().parents[1] / ".cache" / "test-models"


def train_arith_model(*, hidden: int = 64, layers: int = 2, heads: int = 2, steps: int = 300, seed: int = 0,
                      cache: Path = MODEL_CACHE, verifier: bool = False) -> Path:
    """A GPT-NeoX of the family's architecture (``collect.family.model``), width ``hidden``, ``heads``
    heads of ``hidden // heads`` dims, trained ``steps`` steps on the arith task with the family's recipe
    (``collect.family.train``, fixed cosine schedule), saved in float32 with the family's tokenizer.

    Kept under ``cache/<key>`` (a finished folder holds ``trained.json``; written through a temporary
    folder, so a killed build is redone). With ``verifier`` the folder also gets a likelihood verifier's
    ``reward_config.json``.  Head size 32 (the default) is one vLLM's CPU attention accepts.
    """
    import os
    import shutil

    key = f"arith-neox-d{hidden}-l{layers}-h{heads}-s{steps}-seed{seed}" + ("-verifier" if verifier else "")
    folder = Path(cache) / key
    if (folder / "trained.json").is_file():
        return folder
    import torch
    from transformers import GPTNeoXForCausalLM

    from collect.family.model import SIZES, make_config, save_model
    from collect.family.task import split_test
    from collect.family.tokenizer import build_tokenizer
    from collect.family.train import Recipe, train
    from collect.rewards import write_reward_config

    tok = build_tokenizer()
    config = make_config(next(iter(SIZES)))   # the family's architecture; width, depth and heads set here
    config.hidden_size, config.num_hidden_layers, config.num_attention_heads = hidden, layers, heads
    config.intermediate_size = 4 * hidden
    torch.manual_seed(seed)
    model = GPTNeoXForCausalLM(config)
    log = train(model, tok, Recipe(steps=steps, warmup=min(50, steps // 5), seed=1234 + seed),
                exclude={p.question for p in split_test()}, progress=False)
    tmp = folder.with_name(folder.name + f".tmp{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    save_model(model, tok, tmp, dtype=torch.float32)
    if verifier:
        write_reward_config(tmp)
    (tmp / "trained.json").write_text(json.dumps({"steps": steps, "final_loss": float(sum(log["losses"][-20:]) / 20),
                                                  "seconds": round(log["seconds"], 1)}, indent=1))
    shutil.rmtree(folder, ignore_errors=True)
    os.replace(tmp, folder)
    return folder
