"""Throughput of the two generation engines on the same model, prompts and n, and of REBASE against plain
sampling on vLLM, all measured in one run.

1. Sampling: the same ``--problems`` arith prompts, ``n`` samples each (temperature 1, at most
   ``--max-tokens`` tokens, EOS ends a solution) with :class:`~collect.engines.hf.HFEngine` and with
   :class:`~collect.engines.vllm.VLLMEngine` (vLLM's CPU build on a machine without a GPU), both float32;
   generated tokens per second of each (after a warm-up call) and their ratio.
2. Search: REBASE (paper variant, budget ``--budget``) on ``--search-problems`` problems through vLLM with
   prefix caching, guided by a likelihood verifier read through vLLM's prompt log-probabilities, against
   plain sampling of ``budget`` solutions per problem on the same engine: tokens per second inside
   ``generate`` only and end to end (generation + verifier + bookkeeping), and their ratios to sampling.

Models: ``--model`` and ``--verifier`` (a likelihood-verifier folder), else the shipped family's 113k and
its 1.9M verifier (heads of 32: vLLM's CPU attention needs head size 32, 64, ...).

    python benchmarks/bench_engines.py [--problems 64] [--n 16] [--budget 16] [--search-problems 16]
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


class Timed:
    """Delegates to ``obj`` and accumulates the wall time spent in ``method``."""

    def __init__(self, obj, method: str):
        self._obj, self._method, self.seconds = obj, method, 0.0

    def __getattr__(self, name):
        attr = getattr(self._obj, name)
        if name != self._method:
            return attr

        def timed(*a, **kw):
            t0 = time.perf_counter()
            try:
                return attr(*a, **kw)
            finally:
                self.seconds += time.perf_counter() - t0
        return timed


def _models(args) -> tuple[str, str]:
    """``--model`` and ``--verifier``, by default the shipped family's 113k and its verifier (heads of 32)."""
    models = ROOT / "data" / "models"
    return (args.model or str(models / "arith-neox-113k"), args.verifier or str(models / "arith-verifier-1.9m"))


def _rate(engine, prompts, params) -> tuple[int, float]:
    t0 = time.perf_counter()
    out = engine.generate(prompts, params)
    return sum(c.num_tokens for cs in out for c in cs), time.perf_counter() - t0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default=None, help="policy folder (head size vLLM's CPU attention takes)")
    ap.add_argument("--verifier", default=None, help="likelihood-verifier folder")
    ap.add_argument("--problems", type=int, default=64, help="prompts of the engine comparison")
    ap.add_argument("--n", type=int, default=16, help="samples per prompt")
    ap.add_argument("--max-tokens", type=int, default=160)
    ap.add_argument("--hf-batch-size", type=int, default=256, help="HFEngine: sequences decoded at once")
    ap.add_argument("--budget", type=int, default=16, help="REBASE budget (and samples per problem)")
    ap.add_argument("--search-problems", type=int, default=16)
    ap.add_argument("--step-tokens", type=int, default=64)
    ap.add_argument("--kv-cache-gib", type=float, default=1.0, help="vLLM KV cache (on CPU: main memory)")
    ap.add_argument("--skip-hf", action="store_true", help="vLLM only (part 2)")
    args = ap.parse_args(argv)

    import torch

    from collect.engines.hf import HFEngine
    from collect.engines.vllm import VLLMEngine
    from collect.family.task import split_test
    from collect.params import SamplingParams
    from collect.rewards import load_reward_model
    from collect.search import ModelExpander, Rebase, Tree, drive

    policy, verifier = _models(args)
    test = split_test()
    every = max(1, len(test) // args.problems)
    problems = test[::every][: args.problems]
    prompts = [p.question + "\n" for p in problems]
    vllm_kw = {"kv_cache_memory_bytes": int(args.kv_cache_gib * (1 << 30)), "max_model_len": 256}
    print(f"policy {policy}; {len(prompts)} prompts x n={args.n}, <= {args.max_tokens} tokens, temperature 1; "
          f"torch threads {torch.get_num_threads()}, {os.cpu_count()} CPUs, load {os.getloadavg()[0]:.1f}")

    t0 = time.perf_counter()
    vllm = VLLMEngine(policy, **vllm_kw)
    t_load_v = time.perf_counter() - t0
    params = SamplingParams(n=args.n, temperature=1.0, max_tokens=args.max_tokens, seed=0)
    vllm.generate(prompts[:4], params.replace(n=2, max_tokens=16))                         # warm-up
    tok_v, t_v = _rate(vllm, prompts, params)
    print(f"vLLM  : load {t_load_v:6.1f} s; {tok_v:7d} tokens in {t_v:7.2f} s = {tok_v / t_v:9.1f} tok/s")
    if not args.skip_hf:
        t0 = time.perf_counter()
        hf = HFEngine(policy, batch_size=args.hf_batch_size)
        t_load_h = time.perf_counter() - t0
        hf.generate(prompts[:4], params.replace(n=2, max_tokens=16))
        tok_h, t_h = _rate(hf, prompts, params)
        print(f"HF    : load {t_load_h:6.1f} s; {tok_h:7d} tokens in {t_h:7.2f} s = {tok_h / t_h:9.1f} tok/s "
              f"(batch {args.hf_batch_size})")
        print(f"ratio vLLM / HF tokens per second: {(tok_v / t_v) / (tok_h / t_h):.2f}")
        del hf

    # ---- REBASE vs sampling, both on vLLM, verifier through vLLM prompt log-probabilities
    t0 = time.perf_counter()
    rm = load_reward_model(verifier, backend="vllm", **vllm_kw)
    t_load_rm = time.perf_counter() - t0
    sub = test[:: max(1, len(test) // args.search_problems)][: args.search_problems]
    sprompts = [p.question + "\n" for p in sub]
    sp = SamplingParams(n=args.budget, temperature=1.0, max_tokens=args.max_tokens, seed=1)
    tok_s, t_s = _rate(vllm, sprompts, sp)
    r_s = tok_s / t_s
    timed_engine, timed_rm = Timed(vllm, "generate"), Timed(rm, "score")
    trees = [Tree(p, pr.question) for p, pr in zip(sprompts, sub, strict=True)]
    searches = [Rebase(t, args.budget) for t in trees]
    ex = ModelExpander(timed_engine, timed_rm, sp.replace(n=1), step_tokens=args.step_tokens,
                       siblings_as_n=False)   # copies of a prefix in one call: vLLM's prefix cache shares them
    made, sent, cached = (vllm.stats[k] for k in ("generated_tokens", "prompt_tokens", "cached_prompt_tokens"))
    t0 = time.perf_counter()
    drive(searches, ex)
    t_search = time.perf_counter() - t0
    tok_r = sum(t.total_tokens for t in trees)
    assert tok_r == ex.stats["gen_tokens"] == vllm.stats["generated_tokens"] - made
    r_gen, r_e2e = tok_r / timed_engine.seconds, tok_r / t_search
    print(f"verifier {verifier} through vLLM prompt log-probabilities (load {t_load_rm:.1f} s); "
          f"{len(sub)} problems, budget {args.budget}")
    print(f"sampling on vLLM : {tok_s:7d} tokens in {t_s:7.2f} s = {r_s:9.1f} tok/s")
    print(f"REBASE on vLLM   : {tok_r:7d} tokens; generate {timed_engine.seconds:7.2f} s = {r_gen:9.1f} tok/s; "
          f"end to end {t_search:7.2f} s = {r_e2e:9.1f} tok/s (verifier {timed_rm.seconds:.2f} s, "
          f"{ex.stats['generate_calls']} generate calls, {sum(len(s.outputs) for s in searches)} solutions)")
    print(f"REBASE prompt tokens served by vLLM's prefix cache: {vllm.stats['cached_prompt_tokens'] - cached} of "
          f"{vllm.stats['prompt_tokens'] - sent}")
    print(f"ratio REBASE / sampling tok/s on vLLM: generate-only {r_gen / r_s:.2f}, end-to-end {r_e2e / r_s:.2f}")
    return 0


if __name__ == "__main__":   # vLLM starts its engine core in a new process: only under this guard
    sys.exit(main())
