"""Inference compute accounting (FLOPs per solution and per problem).

The default follows the paper (Wu et al. 2025, reverse-engineered from its Table 4):

    FLOPs(solution) = 2 · N · T_gen

with N the policy's parameter count and T_gen the generated tokens; sampling k solutions costs k times
one solution, the reward model is free, and a tree-search run costs ``2 · N · run_gen_tokens`` (every
token it generated, pruned branches included).

Switches (all off by default) make the account more complete:

``prompt="per_sample"``
    add ``2 · N · T_prompt`` to every solution (no prefix cache: the prompt is re-read per sample);
``prompt="per_problem"``
    add ``2 · N · T_prompt`` once per problem (a prefix cache shares the prompt between samples);
``attention={model: (n_layers, d_attn)}``
    add the context term of Kaplan et al. (2020, Table 1): a forward pass at context length c costs
    ``2 · n_layers · c · d_attn`` beyond ``2N``.  A solution of T_gen tokens after a prompt of T_p tokens
    therefore adds ``2 · n_layers · d_attn · (T_gen · T_p + T_gen · (T_gen - 1) / 2)``, and the prompt
    prefill (when counted) adds ``2 · n_layers · d_attn · T_p · (T_p - 1) / 2``;
``reward=True``
    add the verifier's forward pass, ``2 · N_reward · (T_prompt + T_gen)`` per scored solution
    (``reward_params`` column; tree search: ``2 · N_reward · run_gen_tokens``).

Example (the paper's Llemma-7B greedy cost on MATH500, ~291 tokens per solution):

>>> from scaling.flops import Compute, solution_flops
>>> round(solution_flops(params=6.74e9, gen_tokens=291) / 1e12, 2)
3.92
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field

import numpy as np
import pandas as pd

PROMPT_MODES = ("none", "per_sample", "per_problem")


@dataclass(frozen=True)
class Compute:
    """A compute convention.  ``Compute()`` is the paper's: 2 · N · generated tokens."""

    prompt: str = "none"
    attention: Mapping[str, tuple[int, int]] = field(default_factory=dict)
    reward: bool = False

    def __post_init__(self) -> None:
        if self.prompt not in PROMPT_MODES:
            raise ValueError(f"Compute.prompt must be one of {PROMPT_MODES}, got {self.prompt!r}")
        for model, arch in dict(self.attention).items():
            if len(tuple(arch)) != 2 or min(arch) <= 0:
                raise ValueError(f"Compute.attention[{model!r}] must be (n_layers, d_attn), got {arch!r}")

    @classmethod
    def parse(cls, spec: Compute | Mapping | str | None) -> Compute:
        """Accept a Compute, a dict of its fields, None (the paper's), or a comma-separated string
        such as ``"prompt=per_problem,reward"`` (the command-line form)."""
        if spec is None:
            return cls()
        if isinstance(spec, Compute):
            return spec
        if isinstance(spec, Mapping):
            return cls(**spec)
        kw: dict = {}
        for part in filter(None, (p.strip() for p in str(spec).split(","))):
            key, _, val = part.partition("=")
            if key == "prompt":
                kw["prompt"] = val
            elif key == "reward":
                kw["reward"] = val.lower() not in ("0", "false", "no") if val else True
            elif key == "paper":
                continue
            else:
                raise ValueError(f"unknown compute switch {key!r}; expected prompt=..., reward")
        return cls(**kw)

    def describe(self) -> str:
        parts = ["2·N·T_gen"]
        if self.prompt == "per_sample":
            parts.append("+ 2·N·T_prompt per sample")
        elif self.prompt == "per_problem":
            parts.append("+ 2·N·T_prompt per problem")
        if self.attention:
            parts.append("+ Kaplan attention term")
        if self.reward:
            parts.append("+ 2·N_reward·tokens scored")
        return " ".join(parts)

    def to_dict(self) -> dict:
        d = asdict(self)
        d["attention"] = {k: list(v) for k, v in dict(self.attention).items()}
        return d


PAPER = Compute()


def solution_flops(params: float | np.ndarray, gen_tokens: float | np.ndarray,
                   prompt_tokens: float | np.ndarray = 0.0, *, include_prompt: bool = False,
                   arch: tuple[int, int] | None = None) -> np.ndarray | float:
    """FLOPs of generating one solution: ``2·N·T_gen`` (+ ``2·N·T_prompt`` if ``include_prompt``)
    (+ the attention term when ``arch = (n_layers, d_attn)`` is given).  Broadcasts over arrays."""
    n = np.asarray(params, dtype=float)
    g = np.asarray(gen_tokens, dtype=float)
    p = np.asarray(prompt_tokens, dtype=float)
    out = 2.0 * n * g
    if include_prompt:
        out = out + 2.0 * n * p
    if arch is not None:
        layers, width = arch
        out = out + 2.0 * layers * width * (g * p + g * (g - 1) / 2)
        if include_prompt:
            out = out + 2.0 * layers * width * p * (p - 1) / 2
    return out if out.ndim else float(out)


def prompt_flops(params: float | np.ndarray, prompt_tokens: float | np.ndarray,
                 arch: tuple[int, int] | None = None) -> np.ndarray | float:
    """FLOPs of reading a prompt once: ``2·N·T_p`` (+ ``2·n_layers·d_attn·T_p·(T_p-1)/2``)."""
    n = np.asarray(params, dtype=float)
    p = np.asarray(prompt_tokens, dtype=float)
    out = 2.0 * n * p
    if arch is not None:
        layers, width = arch
        out = out + 2.0 * layers * width * p * (p - 1) / 2
    return out if out.ndim else float(out)


def _col(df: pd.DataFrame, name: str, what: str, needed: bool) -> np.ndarray:
    if name not in df:
        if needed:
            raise ValueError(f"compute convention needs column {name!r} ({what})")
        return np.zeros(len(df))
    v = pd.to_numeric(df[name], errors="coerce").to_numpy(dtype=float)
    if needed and np.isnan(v).any():
        i = int(np.flatnonzero(np.isnan(v))[0])
        raise ValueError(f"compute convention needs column {name!r} ({what}) but row {i} "
                         f"(problem {df['problem_id'].iloc[i]!r}, model {df['model'].iloc[i]!r}) has none")
    return np.nan_to_num(v)


def row_flops(samples: pd.DataFrame, compute: Compute | Mapping | str | None = None) -> pd.DataFrame:
    """Per-row compute for a sample table.

    Returns a DataFrame aligned with ``samples`` holding ``flops`` (the row's own cost: one solution,
    or for tree-search rows the whole run's cost) and ``prompt_flops`` (the cost of reading the
    prompt once, charged per problem when ``compute.prompt == "per_problem"``, else 0).
    """
    c = Compute.parse(compute)
    params = samples["params"].to_numpy(dtype=float)
    gen = samples["gen_tokens"].to_numpy(dtype=float)
    tree = samples["method"].isin(("rebase", "mcts")).to_numpy()
    need_prompt = c.prompt != "none" or bool(c.attention)
    prompt = _col(samples, "prompt_tokens", "prompt length", need_prompt)
    if tree.any():
        run_gen = _col(samples[tree], "run_gen_tokens", "tokens of the whole search run", True)
        gen = gen.copy()
        gen[tree] = run_gen
    flops = 2.0 * params * gen
    pflops = np.zeros(len(samples))
    if c.prompt == "per_sample":
        flops += 2.0 * params * prompt
    elif c.prompt == "per_problem":
        pflops += 2.0 * params * prompt
    if c.attention:
        models = samples["model"].astype(str).to_numpy()
        missing = sorted(set(models) - set(c.attention))
        if missing:
            raise ValueError(f"Compute.attention has no (n_layers, d_attn) for model(s) {missing}")
        lw = np.array([2.0 * c.attention[m][0] * c.attention[m][1] for m in models])
        flops += lw * (gen * prompt + gen * (gen - 1) / 2)
        if c.prompt == "per_sample":
            flops += lw * prompt * (prompt - 1) / 2
        elif c.prompt == "per_problem":
            pflops += lw * prompt * (prompt - 1) / 2
    if c.reward:
        rp = _col(samples, "reward_params", "reward model size", True)
        scored = gen + np.where(tree, 0.0, prompt)
        flops += 2.0 * rp * scored
    return pd.DataFrame({"flops": flops, "prompt_flops": pflops}, index=samples.index)


__all__ = ["Compute", "PAPER", "PROMPT_MODES", "solution_flops", "prompt_flops", "row_flops"]
