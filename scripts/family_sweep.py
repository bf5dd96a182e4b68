"""Pilot sweep of model-family designs: does a smaller model with more samples win at equal FLOPs?

Trains every policy of a plan (task variant x depth x width x fixed steps, the Pythia setting: every size
sees the same examples in the same order for the same number of steps), samples each one greedily and
``--n`` times at several temperatures on its task variant's 500-problem test split, scores every sample
with a likelihood verifier of the same task variant (a larger model of correct solutions,
:mod:`collect.rewards.likelihood`, ``min_p`` 0.1) and writes compact sample tables (no texts) that
``scaling.evaluate`` reads, one task per (variant, temperature). ``--report`` prints the crossing
measures (:func:`family_findings.crossing_measures`) of every family a plan holds.

    python scripts/family_sweep.py --plan gpu --device cuda --workers 14 --out OUT --deadline 480
    python scripts/family_sweep.py --plan smoke --workers 2 --out /tmp/sweep          # seconds, on CPU
    python scripts/family_sweep.py --report OUT [--strategy weighted_majority]

Task variants (:data:`VARIANTS`; ``arith`` is the shipped task): ``zipf2`` draws term magnitudes 1..99 with
probability proportional to 1/m (so 55 % single-digit, the rest two-digit) and keeps running totals in
1..999; ``long`` keeps single-digit terms but has 1..16 steps. Heads are 32 wide everywhere (vLLM's CPU
attention needs a head size of 32 or more). Jobs run largest-first within priority groups in ``--workers``
processes; a job not started by ``--deadline`` seconds is skipped, and whatever finished is written.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import sys
import time
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from dataclasses import dataclass
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))


# ----------------------------------------------------------------------------------------------- variants
def _zipf2(rng, difficulty):
    from collect.family.task import ArithProblem

    mags = np.arange(1, 100)
    p = 1.0 / mags
    p /= p.sum()
    start = int(rng.integers(10, 100))
    low = high = start
    terms = [start]
    for m, neg in zip(rng.choice(mags, size=difficulty, p=p), rng.random(difficulty) < 0.5, strict=True):
        m = int(m)
        if neg and low - m < 1 or not neg and high + m > 999:
            neg = not neg
        terms.append(-m if neg else m)
        low, high = (low - m, high) if neg else (low, high + m)
    return ArithProblem(tuple(terms))


@dataclass(frozen=True)
class Variant:
    name: str
    levels: tuple[int, ...]
    zipf: bool = False
    max_new_tokens: int = 160


VARIANTS = {
    "arith": Variant("arith", tuple(range(1, 11))),
    "zipf2": Variant("zipf2", tuple(range(1, 11)), zipf=True, max_new_tokens=192),
    "long": Variant("long", tuple(range(1, 17)), max_new_tokens=200),
}


def use_variant(name: str) -> None:
    """Make :mod:`collect.family.task` generate ``name``'s problems (in this process only)."""
    import collect.family.task as task

    if not hasattr(task, "_orig_generate_problem"):
        task._orig_generate_problem = task.generate_problem
    v = VARIANTS[name]
    task.generate_problem = _zipf2 if v.zipf else task._orig_generate_problem
    task.LEVELS = v.levels
    task.MAX_TOTAL = 199


# ----------------------------------------------------------------------------------------------- plans
@dataclass(frozen=True)
class Job:
    variant: str
    width: int
    depth: int
    steps: int
    verifier: bool = False

    @property
    def name(self) -> str:
        kind = "v" if self.verifier else "p"
        return f"{self.variant}-s{self.steps}-{kind}w{self.width}-l{self.depth}"


WIDTHS = (32, 64, 96, 128, 192, 256)


def plan(name: str) -> list[Job]:
    if name == "smoke":
        return [Job("arith", 64, 2, 30, verifier=True), Job("arith", 32, 2, 20), Job("arith", 64, 2, 20),
                Job("zipf2", 64, 2, 30, verifier=True), Job("zipf2", 32, 2, 20)]
    if name == "gpu2":   # one wave: every job starts at once
        return ([Job(v, 256, 4, 6000, verifier=True) for v in ("arith", "zipf2")]
                + [Job("arith", w, 2, 4000) for w in sorted(WIDTHS, reverse=True)]
                + [Job("zipf2", w, 3, 4000) for w in sorted(WIDTHS, reverse=True)])
    if name != "gpu":
        raise ValueError(f"unknown plan {name!r}")
    groups = [("arith", 2, 4000), ("zipf2", 2, 4000), ("arith", 3, 4000), ("zipf2", 3, 4000),
              ("long", 2, 4000), ("zipf2", 2, 8000), ("arith", 2, 2000)]
    jobs = [Job(v, 256, 4, 6000, verifier=True) for v in ("arith", "zipf2", "long")]
    for v, d, s in groups:
        jobs += [Job(v, w, d, s) for w in sorted(WIDTHS, reverse=True)]
    return jobs


# ----------------------------------------------------------------------------------------------- work
def _register(job: Job) -> str:
    from collect.family import model as fm

    fm.SIZES[job.name] = (job.width, job.depth, max(1, job.width // 32))
    return job.name


def _generate(model, tok, problems, *, device, n, temperature, max_new_tokens, seed, batch):
    """[(text, gen_tokens)] for every problem, ``n`` each (greedy when temperature is 0)."""
    import torch

    from collect.family.task import prompt

    eos, pad = tok.eos_token_id, tok.pad_token_id
    out = []
    qb = max(1, batch // n)
    for b in range(0, len(problems), qb):
        enc = tok([prompt(p.question) for p in problems[b:b + qb]], return_tensors="pt", padding=True,
                  add_special_tokens=False).to(device)
        torch.manual_seed(seed + b)
        kw = (dict(do_sample=True, temperature=temperature, top_k=0, top_p=1.0) if temperature > 0
              else dict(do_sample=False))
        with torch.no_grad():
            g = model.generate(**enc, max_new_tokens=max_new_tokens, num_return_sequences=n, pad_token_id=pad,
                               eos_token_id=eos, **kw)[:, enc["input_ids"].shape[1]:]
        for row in g.tolist():
            k = row.index(eos) + 1 if eos in row else len(row)
            out.append((tok.decode(row[:k], skip_special_tokens=True), k))
    return out


def run_job(job: Job, work: str, device: str, n: int, temps: tuple[float, ...], n_problems: int,
            deadline: float, hard_stop: float) -> dict:
    import torch

    from collect.family.model import build_model, n_params, save_model
    from collect.family.task import split_test
    from collect.family.tokenizer import build_tokenizer
    from collect.family.train import Recipe, train

    if time.time() > deadline:
        return {"name": job.name, "skipped": True}
    torch.set_num_threads(1)
    use_variant(job.variant)
    name = _register(job)
    tok = build_tokenizer()
    test = _test_problems(n_problems)
    c0, t0 = time.process_time(), time.time()
    model = build_model(name, seed=0)
    recipe = Recipe(steps=job.steps, seed=4242 if job.verifier else 1234, lr=3e-3 * min(1.0, 128 / job.width))
    log = train(model, tok, recipe, exclude={p.question for p in split_test()}, device=device, progress=False,
                desc=name)
    info = {"name": name, "variant": job.variant, "width": job.width, "depth": job.depth, "steps": job.steps,
            "verifier": job.verifier, "params": n_params(model), "train_wall_s": round(time.time() - t0, 1),
            "train_cpu_s": round(time.process_time() - c0, 1),
            "loss_curve": [float(np.mean(log["losses"][max(0, s - 250):s])) for s in
                           range(500, job.steps + 1, 500)]}
    folder = Path(work) / "models" / name
    if not all(bool(torch.isfinite(p).all()) for p in model.parameters()):
        return info | {"error": "diverged: non-finite parameters after training"}
    if job.verifier:
        save_model(model, tok, folder, dtype=torch.float32)
        (folder / "done").write_text("ok")
        return info
    model.eval()
    vfolder = Path(work) / "models" / f"{job.variant}-s6000-vw256-l4"
    if not vfolder.exists():   # the smoke plan's verifier
        vfolder = next(iter(sorted((Path(work) / "models").glob(f"{job.variant}-*-vw*"))), vfolder)
    meta = {"variant": job.variant, "steps": job.steps, "depth": job.depth, "width": job.width}
    return info | sample_and_score(model, tok, test, name, meta, vfolder, Path(work) / "parts", device=device,
                                   n=n, temps=temps, hard_stop=hard_stop, t0=t0)


def sample_and_score(model, tok, test, name: str, meta: dict, vfolder: Path, parts: Path, *, device: str,
                     n: int, temps: tuple[float, ...], hard_stop: float, t0: float) -> dict:
    """Greedy and ``n`` samples per temperature of ``test``, scored by the verifier in ``vfolder`` (once its
    ``done`` marker exists, for a verifier trained by the sweep, or at once for a finished verifier folder
    with a reward_config.json); one compact part table in ``parts``."""
    import pandas as pd
    import torch

    from collect.family.model import n_params
    from collect.family.task import extract_answer, split_steps
    from collect.rewards import LikelihoodVerifier

    v = VARIANTS[meta["variant"]]
    rows = []
    t1 = time.time()
    for temp in (0.0,) + tuple(temps):
        k = 1 if temp == 0 else n
        res = _generate(model, tok, test, device=device, n=k, temperature=temp, max_new_tokens=v.max_new_tokens,
                        seed=7, batch=2048 if device.startswith("cuda") else 256)
        for i, p in enumerate(test):
            for j in range(k):
                text, gen = res[i * k + j]
                ans = extract_answer(text)
                rows.append((i, j, temp, ans, ans == str(p.answer), gen, p.difficulty, p.question, text))
    info = {"sample_wall_s": round(time.time() - t1, 1)}
    finished = (vfolder / "reward_config.json").exists()
    while not finished and not (vfolder / "done").exists() and time.time() < hard_stop:
        time.sleep(2)
    rewards = np.full(len(rows), np.nan)
    if finished or (vfolder / "done").exists():
        from transformers import AutoModelForCausalLM

        batch = 512 if device.startswith("cuda") else 256
        if finished:
            ver = LikelihoodVerifier(str(vfolder), device=device, batch_size=batch)
        else:
            vm = AutoModelForCausalLM.from_pretrained(vfolder, dtype=torch.float32).to(device)
            ver = LikelihoodVerifier.from_model(vm, tok, min_p=0.1, batch_size=batch)
        steps = [split_steps(r[8]) for r in rows]
        idx = [i for i, s in enumerate(steps) if s]
        t2 = time.time()
        scores = ver.score([rows[i][7] for i in idx], [steps[i] for i in idx])
        info["score_wall_s"] = round(time.time() - t2, 1)
        rewards[:] = 0.0
        rewards[idx] = [s[-1] for s in scores]
    df = pd.DataFrame(rows, columns=["problem", "sample_id", "temperature", "answer", "correct", "gen_tokens",
                                     "difficulty", "question", "text"]).drop(columns=["question", "text"])
    df["reward"] = rewards.astype("float32")
    df["model"], df["params"] = name, float(n_params(model))
    for key, val in meta.items():
        df[key] = val
    parts.mkdir(parents=True, exist_ok=True)
    df.to_parquet(parts / f"{name}.parquet", compression="zstd")
    info["greedy"] = float(df[df.temperature == 0].correct.mean())
    info["sample_acc"] = {str(t): float(df[df.temperature == t].correct.mean()) for t in temps}
    info["wall_s"] = round(time.time() - t0, 1)
    return info


def existing_job(folder: str, verifier: str, work: str, device: str, n: int, temps: tuple[float, ...],
                 n_problems: int) -> dict:
    """Sample and score a policy already trained (a family folder with training.json) on the arith task."""
    import torch
    from transformers import AutoModelForCausalLM

    from collect.family.tokenizer import build_tokenizer

    torch.set_num_threads(1)
    t0 = time.time()
    folder = Path(folder)
    info = json.loads((folder / "training.json").read_text())
    model = AutoModelForCausalLM.from_pretrained(folder, dtype=torch.float32).to(device).eval()
    size = info.get("size", {})
    meta = {"variant": "arith", "steps": int(info.get("steps", 0)), "depth": int(size.get("layers", 0)),
            "width": int(size.get("d", 0))}
    return {"name": folder.name} | sample_and_score(model, build_tokenizer(), _test_problems(n_problems), folder.name,
                                                    meta, Path(verifier), Path(work) / "parts", device=device, n=n,
                                                    temps=temps, hard_stop=time.time(), t0=t0)


def _test_problems(n_problems: int):
    from collect.family.task import split_test

    test = split_test()
    return [test[i] for i in np.unique(np.round(np.linspace(0, len(test) - 1, min(n_problems, len(test)))).astype(int))]


def run_plan(args) -> int:
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    work = Path(args.work or (out / "work"))
    jobs = plan(args.plan) if args.plan else sorted(
        (str(f.parent) for f in Path(args.models).glob("arith-neox-*/training.json")),
        key=lambda f: -json.loads((Path(f) / "training.json").read_text())["params"])
    start = time.time()
    deadline = start + args.deadline
    temps = tuple(float(t) for t in args.temps.split(","))
    logf = open(out / "log.txt", "a")

    def say(msg):
        line = f"[{time.time() - start:6.0f}s] {msg}"
        print(line, flush=True)
        logf.write(line + "\n")
        logf.flush()

    say(f"{len(jobs)} jobs, {args.workers} workers on {args.device}, deadline {args.deadline} s")
    infos = []
    ctx = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=args.workers, mp_context=ctx, max_tasks_per_child=1) as pool:
        pending = {(pool.submit(run_job, j, str(work), args.device, args.n, temps, args.problems, deadline,
                                deadline + args.grace - 20) if args.plan else
                    pool.submit(existing_job, j, args.verifier, str(work), args.device, args.n, temps,
                                args.problems)): j for j in jobs}
        while pending:
            done, _ = wait(pending, timeout=max(1.0, deadline + args.grace - time.time()),
                           return_when=FIRST_COMPLETED)
            if not done:
                say(f"grace over: {len(pending)} jobs left unfinished")
                for p in pool._processes.values():
                    p.kill()
                break
            for f in done:
                j = pending.pop(f)
                try:
                    info = f.result()
                except Exception as e:   # noqa: BLE001 - a pilot job's failure is reported, not fatal
                    info = {"name": getattr(j, "name", j), "error": repr(e)}
                infos.append(info)
                say(json.dumps({k: info[k] for k in info if k != "loss_curve"}))
    consolidate(work, out, infos, say)
    return 0


def consolidate(work: Path, out: Path, infos: list[dict], say, max_mb: float = 15.0) -> None:
    import pandas as pd

    (out / "summary.json").write_text(json.dumps(infos, indent=1))
    parts = sorted((work / "parts").glob("*.parquet"))
    if not parts:
        say("no sample tables")
        return
    df = pd.concat([pd.read_parquet(p) for p in parts], ignore_index=True)
    for v, g in df.groupby("variant"):
        path = out / f"sweep_{v}.parquet"
        g.to_parquet(path, compression="zstd")
        if path.stat().st_size > max_mb * 2**20:   # split by depth to stay under the transfer limit
            path.unlink()
            for d, h in g.groupby("depth"):
                h.to_parquet(out / f"sweep_{v}_l{d}.parquet", compression="zstd")
    say(f"wrote {len(df)} rows of {df.model.nunique()} models: "
        + ", ".join(f"{p.name} {p.stat().st_size / 2**20:.1f} MB" for p in sorted(out.glob("*.parquet"))))


# ----------------------------------------------------------------------------------------------- report
def to_samples(df):
    """The contract's sample table: one task per (variant, temperature); greedy rows repeated in each."""
    import pandas as pd

    out = []
    for t in sorted(set(df.temperature) - {0.0}):
        part = df[df.temperature.isin([0.0, t])].copy()
        part["task"] = part.variant + f"-T{t:g}"
        part["method"] = np.where(part.temperature == 0, "greedy", "sample")
        out.append(part)
    s = pd.concat(out, ignore_index=True)
    s["problem_id"] = s.problem.astype(str)
    s["answer"] = s.answer.astype("string")
    s["difficulty"] = s.difficulty.astype(str)
    s["gen_tokens"] = s.gen_tokens.astype(int)
    return s[["task", "problem_id", "model", "params", "method", "sample_id", "answer", "correct", "gen_tokens",
              "reward", "temperature", "difficulty", "variant", "steps", "depth", "width"]]


def report(folder: str, strategy: str, ks: list[int]) -> int:
    import pandas as pd
    from family_findings import crossing_measures, crossing_report

    import scaling

    df = pd.concat([pd.read_parquet(p) for p in sorted(Path(folder).glob("sweep_*.parquet"))], ignore_index=True)
    s = to_samples(df)
    for (task, steps), g in s.groupby(["task", "steps"]):
        for depths in sorted({(d,) for d in g.depth.unique()}) + ([tuple(sorted(g.depth.unique()))]
                                                                   if g.depth.nunique() > 1 else []):
            fam = g[g.depth.isin(depths)]
            ev = scaling.evaluate(fam.drop(columns=["variant", "steps", "depth", "width"]),
                                  strategies=["greedy", "majority", strategy], ks=ks, extrapolate=(), n_boot=20,
                                  n_draws=64)
            c = ev.curves
            acc = c[(c.method == "sample") & (c.strategy == strategy)].pivot(index="model", columns="k",
                                                                              values="accuracy")
            greedy = c[c.method == "greedy"].set_index("model").accuracy
            order = fam.drop_duplicates("model").sort_values("params").model
            print(f"\n### {task}, {steps} steps, depth {','.join(map(str, depths))} ({strategy})")
            tab = acc.loc[order].round(3)
            tab.insert(0, "greedy", greedy.reindex(order).round(3))
            tab.insert(0, "params", fam.drop_duplicates("model").set_index("model").params.reindex(order).astype(int))
            print(tab.to_string())
            print(crossing_report(crossing_measures(c[(c.method == "sample") & (c.strategy == strategy)])))
    return 0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--plan", default=None)
    ap.add_argument("--models", default=None, help="sample and score the trained family in this folder instead")
    ap.add_argument("--verifier", default=None, help="with --models: the verifier folder")
    ap.add_argument("--report", default=None, help="a folder written by a sweep: print its crossing measures")
    ap.add_argument("--strategy", default="weighted_majority")
    ap.add_argument("--ks", default="1,2,4,8,16,32,64")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--out", default="sweep-out")
    ap.add_argument("--work", default=None)
    ap.add_argument("--n", type=int, default=64)
    ap.add_argument("--temps", default="0.6,0.8,1.0")
    ap.add_argument("--problems", type=int, default=500)
    ap.add_argument("--deadline", type=float, default=1e9, help="seconds after which no job starts")
    ap.add_argument("--grace", type=float, default=60, help="seconds past the deadline that running jobs get")
    args = ap.parse_args(argv)
    if args.report:
        return report(args.report, args.strategy, [int(k) for k in args.ks.split(",")])
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    return run_plan(args)


if __name__ == "__main__":
    raise SystemExit(main())
