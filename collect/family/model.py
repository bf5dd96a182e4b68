"""The bundled GPT-NeoX (Pythia-architecture) model family: configurations, construction, saving.

Every size (the policies :data:`SIZES` and the verifier :data:`VERIFIER_SIZES`) uses Pythia's architecture (rotary on 25 % of head dims, parallel attention + MLP residual,
untied input/output embeddings, GELU MLP of width 4d) and differs only in width ``d``, depth ``L`` and heads.
Parameter counts (embeddings included) are printed by ``python -m collect.family sizes``.

>>> model = build_model("arith-neox-32k")
>>> n_params(model) > 15_000
True
"""

from __future__ import annotations

from pathlib import Path

import torch
from transformers import GPTNeoXConfig, GPTNeoXForCausalLM, PreTrainedTokenizerFast

from collect.family.tokenizer import build_tokenizer

# name -> (hidden size d, layers L, attention heads): the policies, 51x from the smallest to the largest.
# Depth 2 at widths 32..256 in steps of 32 and one depth-3 size (like Pythia, the family varies width and
# depth), every head 32 wide (vLLM's CPU attention serves head sizes of 32 and up). Trained for the same fixed
# number of steps on the same examples (the Pythia setting); accuracy per sample rises with size, not
# monotonically (data/README.md): at depth 2 it jumps between widths 96 and 128, and the depth-3 163k
# lands between the two groups.
SIZES: dict[str, tuple[int, int, int]] = {
    "arith-neox-32k": (32, 2, 1),
    "arith-neox-113k": (64, 2, 2),
    "arith-neox-163k": (64, 3, 2),
    "arith-neox-244k": (96, 2, 3),
    "arith-neox-423k": (128, 2, 4),
    "arith-neox-652k": (160, 2, 5),
    "arith-neox-930k": (192, 2, 6),
    "arith-neox-1.3m": (224, 2, 7),
    "arith-neox-1.6m": (256, 2, 8),
}
# the verifier (collect.family.verifier): larger than every policy, as the paper's is
VERIFIER_SIZES: dict[str, tuple[int, int, int]] = {"arith-verifier-1.9m": (160, 6, 5)}
MAX_POSITIONS = 256


def make_config(name: str, vocab_size: int | None = None) -> GPTNeoXConfig:
    """GPTNeoXConfig of one family member (vocabulary of :func:`build_tokenizer` unless given)."""
    sizes = {**SIZES, **VERIFIER_SIZES}
    if name not in sizes:
        raise ValueError(f"unknown model size {name!r}; expected one of {sorted(sizes)}")
    d, n_layers, heads = sizes[name]
    tok = build_tokenizer()
    return GPTNeoXConfig(
        vocab_size=vocab_size or len(tok), hidden_size=d, num_hidden_layers=n_layers,
        num_attention_heads=heads, intermediate_size=4 * d, hidden_act="gelu",
        rotary_pct=0.25, rotary_emb_base=10000, max_position_embeddings=MAX_POSITIONS,
        use_parallel_residual=True, tie_word_embeddings=False, attention_dropout=0.0, hidden_dropout=0.0,
        initializer_range=0.02, layer_norm_eps=1e-5, bos_token_id=tok.bos_token_id,
        eos_token_id=tok.eos_token_id, pad_token_id=tok.pad_token_id,
    )


def build_model(name: str, *, seed: int = 0) -> GPTNeoXForCausalLM:
    """A freshly initialised family member (deterministic in ``seed``)."""
    torch.manual_seed(seed)
    return GPTNeoXForCausalLM(make_config(name))


def n_params(model: torch.nn.Module) -> int:
    """Total parameter count, embeddings included (the ``params`` of the sample tables)."""
    return sum(p.numel() for p in model.parameters())


def save_model(model: GPTNeoXForCausalLM, tokenizer: PreTrainedTokenizerFast, out: str | Path,
               dtype: torch.dtype = torch.bfloat16) -> Path:
    """save_pretrained in ``dtype`` safetensors with the tokenizer, loadable by AutoModelForCausalLM."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    model = model.to("cpu")
    orig = next(model.parameters()).dtype
    model.to(dtype).save_pretrained(out, safe_serialization=True)
    model.to(orig)
    tokenizer.save_pretrained(out)
    return out
