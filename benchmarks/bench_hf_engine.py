"""HFEngine sampling throughput against a bare ``model.generate`` loop on the same model, same run.

Both sample P prompts x n samples of exactly T new tokens at temperature 1 (EOS ignored by the engine,
suppressed in ``generate`` with ``min_new_tokens``), with the KV cache.  The engine additionally sums
per-token log-probabilities and checks stop strings; ``generate`` returns token ids only.  Repeats are
interleaved and the median time of each is reported.

    python benchmarks/bench_hf_engine.py                 # CPU, two model sizes
    python benchmarks/bench_hf_engine.py --device cuda --hidden 512 --layers 8 --prompts 16 --n 16

Goal: overhead (engine time / generate time - 1) under 10 %.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))


def _timed(fn, cuda: bool):
    import torch

    if cuda:
        torch.cuda.synchronize()
    t0 = time.perf_counter()
    toks = fn()
    if cuda:
        torch.cuda.synchronize()
    return time.perf_counter() - t0, toks


def bench_model(folder: Path, hidden: int, prompts: list[str], args) -> dict:
    import torch

    from collect.engines.hf import HFEngine
    from collect.params import SamplingParams

    rows = len(prompts) * args.n
    eng = HFEngine(str(folder), device=args.device, dtype="float32", batch_size=rows, ignore_eos=True)
    model, tok = eng.model, eng.tokenizer
    enc = tok(prompts, return_tensors="pt", padding=True, padding_side="left")
    ids, mask = enc["input_ids"].to(eng.device), enc["attention_mask"].to(eng.device)
    stop = ["\n\n"] if args.stop else None
    cuda = args.device.startswith("cuda")

    def run_engine():
        out = eng.generate(prompts, SamplingParams(n=args.n, temperature=1.0, max_tokens=args.tokens, seed=0, stop=stop))
        return sum(c.num_tokens for o in out for c in o)

    def run_generate():
        torch.manual_seed(0)
        with torch.inference_mode():
            out = model.generate(input_ids=ids, attention_mask=mask, do_sample=True, temperature=1.0,
                                 top_p=1.0, top_k=0, max_new_tokens=args.tokens, min_new_tokens=args.tokens,
                                 num_return_sequences=args.n, pad_token_id=eng.pad_id)
        return int((out.shape[1] - ids.shape[1]) * out.shape[0])

    _timed(run_engine, cuda)
    _timed(run_generate, cuda)                           # warm-up
    te, tg = [], []
    toks_e = toks_g = 0
    for _ in range(args.repeats):
        t, toks_e = _timed(run_engine, cuda)
        te.append(t)
        t, toks_g = _timed(run_generate, cuda)
        tg.append(t)
    me, mg = statistics.median(te), statistics.median(tg)
    print(f"\nmodel hidden={hidden} layers={args.layers} params={eng.params:.3g}")
    print(f"  bare model.generate : {mg:7.3f} s  {toks_g / mg:9.0f} tokens/s  ({toks_g} tokens)")
    print(f"  HFEngine.generate   : {me:7.3f} s  {toks_e / me:9.0f} tokens/s  ({toks_e} tokens)")
    print(f"  overhead            : {100 * (me / mg - 1):+6.1f} %  (engine/generate time ratio {me / mg:.3f}; "
          "goal < +10 %)")
    return {"hidden": hidden, "engine_s": me, "generate_s": mg, "ratio": me / mg}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--hidden", type=int, nargs="+", default=[64, 256])
    ap.add_argument("--layers", type=int, default=4)
    ap.add_argument("--prompts", type=int, default=4)
    ap.add_argument("--n", type=int, default=8)
    ap.add_argument("--tokens", type=int, default=128)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--stop", action="store_true", help="engine also checks a stop string ('\\n\\n')")
    args = ap.parse_args()

    import torch
    from helpers_models import build_model

    if args.threads:
        torch.set_num_threads(args.threads)
    prompts = [f"Question {i}: what is {i} + {2 * i} * {i + 3}? Think step by step.\n" * (1 + i % 3)
               for i in range(args.prompts)]
    print(f"device={args.device} threads={torch.get_num_threads()} prompts={args.prompts} n={args.n} "
          f"new_tokens={args.tokens} rows={len(prompts) * args.n} repeats={args.repeats} stop={args.stop}")
    with tempfile.TemporaryDirectory() as tmp:
        for hidden in args.hidden:
            folder = build_model(Path(tmp) / f"neox-{hidden}", hidden=hidden, layers=args.layers,
                                 heads=max(4, hidden // 64))
            bench_model(folder, hidden, prompts, args)


if __name__ == "__main__":
    main()
