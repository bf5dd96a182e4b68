"""Throughput of tree search (REBASE) against plain sampling with the same engine and model.

Both generate ``budget`` solutions per problem for the same problems with the same HF engine; the
script prints generated tokens per second for each, their ratio, and the prefix reuse rate: the
fraction of the prompt+prefix tokens sent to the engine that had already been processed earlier (and so
could be served from a prefix cache).  For plain sampling with n samples per prompt that is (n-1)/n
(the engine prefills each prompt once); for search, every step re-sends its whole partial solution.

Search throughput is reported twice: tokens per second inside ``engine.generate`` only, and end to end
(generation + reward-model scoring + bookkeeping; the reuse accounting's own tokenization excluded).

Models: ``--model``/``--reward-model``, else the bundled family (``data/models/<--family-size>`` and
``arith-prm-*``) when present, else random-weight family members built on the fly (throughput depends
on the weights only through the lengths of what they generate).

    python benchmarks/bench_search.py [--problems 16] [--budget 8] [--threads 1]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path
from types import SimpleNamespace

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


def _models(args, tmp: Path) -> tuple[str, str, str]:
    """Policy and PRM folders: given, else shipped, else random-weight family members (built here)."""
    from collect.family.model import build_model, save_model
    from collect.family.prm import save_reward_config
    from collect.family.tokenizer import build_tokenizer

    models = ROOT / "data" / "models"
    policy = args.model
    if policy is None:
        shipped = [p for p in sorted(models.glob("arith-neox-*")) if p.name == args.family_size]
        policy = str(shipped[0]) if shipped else None
    prm = args.reward_model
    if prm is None:
        prms = sorted(models.glob("arith-prm-*"))
        prm = str(prms[0]) if prms else None
    origin = f"policy {'given or shipped' if policy else 'random weights'}, PRM {'given or shipped' if prm else 'random weights'}"
    tok = build_tokenizer()
    if policy is None:
        policy = str(save_model(build_model(args.family_size, seed=1), tok, tmp / args.family_size))
    if prm is None:
        prm = save_model(build_model("arith-neox-423k", seed=2), tok, tmp / "prm-random")
        save_reward_config(prm)
    return policy, str(prm), origin


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", default=None)
    ap.add_argument("--reward-model", default=None)
    ap.add_argument("--family-size", default="arith-neox-113k")
    ap.add_argument("--task", default="arith")
    ap.add_argument("--problems", type=int, default=16)
    ap.add_argument("--budget", type=int, default=8)
    ap.add_argument("--max-tokens", type=int, default=160)
    ap.add_argument("--step-tokens", type=int, default=48)
    ap.add_argument("--template", default="raw")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--batch-size", type=int, default=256)
    ap.add_argument("--repeat-prefixes", action="store_true",
                    help="send k copies of a prefix with n=1 in one call instead of n=k per distinct k")
    args = ap.parse_args(argv)

    import torch

    from collect.engines.hf import HFEngine
    from collect.params import SamplingParams
    from collect.rewards import load_reward_model
    from collect.search import ModelExpander, Rebase, Tree, drive
    from collect.search.run import make_prompt
    from collect.tasks import load_task

    torch.set_num_threads(args.threads)
    tmp = Path(tempfile.mkdtemp(prefix="bench_search_"))
    model, rm_path, origin = _models(args, tmp)
    engine = HFEngine(model, device=args.device, batch_size=args.batch_size)
    rm = load_reward_model(rm_path, device=args.device)
    every = load_task(args.task)
    problems = every[:: max(1, len(every) // args.problems)][: args.problems]   # spread over the file (levels)
    prompts = [make_prompt(p, args.template) for p in problems]
    print(f"policy {engine.model_name} ({engine.params:.3g} params), PRM {rm.name} ({origin}); "
          f"{len(problems)} problems x budget {args.budget}; max {args.max_tokens} tokens "
          f"({args.step_tokens} per step); {args.threads} thread(s), {args.device}")

    # warm-up (first-call costs: stop-token tables, allocator)
    engine.generate(prompts[:2], SamplingParams(n=2, max_tokens=8, seed=0, stop=["\n\n"]))

    # ---- plain sampling
    s0 = dict(engine.stats)
    t0 = time.perf_counter()
    out = engine.generate(prompts, SamplingParams(n=args.budget, temperature=1.0, max_tokens=args.max_tokens, seed=0))
    t_sample = time.perf_counter() - t0
    tok_sample = sum(c.num_tokens for cs in out for c in cs)
    prompt_sent = (engine.stats["prompt_tokens"] - s0["prompt_tokens"]) * args.budget
    prefilled = engine.stats["prefill_tokens"] - s0["prefill_tokens"]
    reuse_sample = 1 - prefilled / prompt_sent

    # ---- REBASE (paper variant), same engine, same budget
    timed_engine = Timed(engine, "generate")
    timed_rm = Timed(rm, "score")
    counting = Timed(engine, "count_tokens")

    # generate timed; count_tokens (used by the reuse accounting only) timed separately
    wrapped = SimpleNamespace(model_name=engine.model_name, params=engine.params, eos_ids=engine.eos_ids,
                              generate=timed_engine.generate, count_tokens=counting.count_tokens)

    trees = [Tree(p, pr.question) for p, pr in zip(prompts, problems, strict=True)]
    searches = [Rebase(t, args.budget) for t in trees]
    ex = ModelExpander(wrapped, timed_rm, SamplingParams(max_tokens=args.max_tokens, seed=0),
                       step_tokens=args.step_tokens, measure_reuse=True, siblings_as_n=not args.repeat_prefixes)
    s1 = dict(engine.stats)
    t0 = time.perf_counter()
    drive(searches, ex)
    t_search = time.perf_counter() - t0 - counting.seconds
    tok_search = sum(t.total_tokens for t in trees)
    assert tok_search == ex.stats["gen_tokens"] == engine.stats["generated_tokens"] - s1["generated_tokens"]
    reuse_search = ex.stats["reusable_tokens"] / ex.stats["prefix_tokens"]
    sols = sum(len(s.outputs) for s in searches)
    prefill_search = engine.stats["prefill_tokens"] - s1["prefill_tokens"]

    r_sample = tok_sample / t_sample
    r_gen = tok_search / timed_engine.seconds
    r_e2e = tok_search / t_search
    print(f"sampling : {tok_sample:7d} tokens in {t_sample:7.2f} s = {r_sample:8.1f} tok/s; "
          f"{len(problems) * args.budget} solutions; prefix reuse {reuse_sample:.3f}")
    print(f"REBASE   : {tok_search:7d} tokens; generate {timed_engine.seconds:7.2f} s = {r_gen:8.1f} tok/s; "
          f"end to end {t_search:7.2f} s = {r_e2e:8.1f} tok/s (PRM {timed_rm.seconds:.2f} s); {sols} solutions, "
          f"{ex.stats['generate_calls']} generate calls")
    print(f"REBASE prefix reuse rate: {reuse_search:.3f} ({ex.stats['reusable_tokens']} of "
          f"{ex.stats['prefix_tokens']} prompt+prefix tokens already processed); the HF engine prefilled "
          f"{prefill_search} (it shares a prefix only among the n samples of one call)")
    print(f"tokens per solution: sampling {tok_sample / (len(problems) * args.budget):.1f}, "
          f"REBASE run / N {tok_search / (len(problems) * args.budget):.1f}")
    print(f"ratio search/sampling tok/s: generate-only {r_gen / r_sample:.3f}, end-to-end {r_e2e / r_sample:.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
