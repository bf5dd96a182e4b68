"""Agreement of :mod:`collect.grading` with real human/tool labels, and grading speed.

Data (../shared/data/reference, or pass --reference-dir):

* ``gsm8k_example_model_solutions.jsonl``: 1,319 GSM8K test problems x 4 model solutions (6B and 175B,
  fine-tuned and verifier-selected) with ``is_correct``; reference = text after "A:" / "####" in
  ``ground_truth``.
* ``qwen25_math_cot_100.jsonl``: 100 MATH problems x 8 Qwen2.5-Math solutions (``code``) with the
  Qwen evaluation's labels (``score``), its extracted answers (``pred``) and the reference ``gt``.

Prints, per data set: agreement (% of solutions whose ``correct`` equals the label), the disagreements
grouped by category, and grading speed (solutions/s) with cold and warm caches against a plain baseline
(math-verify's own ``parse`` + ``verify`` on every solution, no caching) measured in the same run.

    python benchmarks/grader_agreement.py [--reference-dir DIR] [--show N]
"""

from __future__ import annotations

import argparse
import collections
import json
import time
from pathlib import Path

from collect import grading
from collect.grading import canonical_answer, extract_answer, grade_many, is_equivalent

DEFAULT_DIR = Path(__file__).resolve().parents[2] / "shared" / "data" / "reference"
GSM_KEYS = ("6b_finetuning", "6b_verification", "175b_finetuning", "175b_verification")


def load_gsm8k(path: Path) -> tuple[list[str], list[str], list[bool]]:
    texts, refs, labels = [], [], []
    with open(path, encoding="utf-8") as fh:
        for line in fh:
            r = json.loads(line)
            gt = r["ground_truth"]
            ref = gt.rsplit("####", 1)[1] if "####" in gt else gt.rsplit("A:", 1)[1]
            for k in GSM_KEYS:
                texts.append(r[k]["solution"])
                refs.append(ref.strip())
                labels.append(bool(r[k]["is_correct"]))
    return texts, refs, labels


def load_qwen(path: Path) -> tuple[list[str], list[str], list[bool], list[str], list[int]]:
    texts, refs, labels, preds, problem = [], [], [], [], []
    with open(path, encoding="utf-8") as fh:
        for i, line in enumerate(fh):
            r = json.loads(line)
            for text, score, pred in zip(r["code"], r["score"], r["pred"], strict=True):
                texts.append(text)
                refs.append(str(r["gt"]))
                labels.append(bool(score))
                preds.append(pred)
                problem.append(i)
    return texts, refs, labels, preds, problem


def _categorise(task: str, text: str, ref: str, label: bool, mine: bool, their_pred: str | None) -> str:
    raw = extract_answer(task, text)
    if raw is None:
        return "no answer extracted"
    if their_pred is not None and canonical_answer(task, their_pred) != canonical_answer(task, raw):
        return "extracted a different answer than the labeller"
    if mine and not label:
        return "judged equivalent, label says wrong"
    return "judged not equivalent, label says right"


def report(name: str, task: str, texts, refs, labels, preds=None, show: int = 5) -> list:
    grading.clear_caches()
    t0 = time.perf_counter()
    grades = grade_many(task, texts, refs)
    cold = time.perf_counter() - t0
    t0 = time.perf_counter()
    grade_many(task, texts, refs)
    warm = time.perf_counter() - t0
    agree = [g.correct == lab for g, lab in zip(grades, labels, strict=True)]
    n = len(agree)
    print(f"\n== {name}: {n} solutions, {len(set(refs))} distinct references")
    print(f"agreement: {sum(agree)}/{n} = {100 * sum(agree) / n:.2f} %")
    print(f"label accuracy {100 * sum(labels) / n:.2f} %, grader accuracy "
          f"{100 * sum(g.correct for g in grades) / n:.2f} %, null answers {sum(g.answer is None for g in grades)}")
    cats: dict[str, list[int]] = collections.defaultdict(list)
    for i, ok in enumerate(agree):
        if not ok:
            cats[_categorise(task, texts[i], refs[i], labels[i], grades[i].correct,
                             preds[i] if preds is not None else None)].append(i)
    for cat, idx in sorted(cats.items(), key=lambda kv: -len(kv[1])):
        print(f"  disagreement [{len(idx)}] {cat}")
        for i in idx[:show]:
            tail = texts[i].strip()[-160:].replace("\n", "\\n")
            extra = f" | labeller's pred={preds[i]!r}" if preds is not None else ""
            print(f"     ref={refs[i]!r} mine={grades[i].answer!r} label={labels[i]}{extra}\n       ...{tail}")
    print(f"speed: cold caches {n / cold:,.0f} solutions/s ({cold:.2f} s), warm {n / warm:,.0f} solutions/s")
    return grades


def split_votes(task: str, grades, problem: list[int]) -> tuple[int, int]:
    """Pairs of distinct answer strings within one problem that are nevertheless equivalent."""
    by_problem: dict[int, set[str]] = collections.defaultdict(set)
    for g, p in zip(grades, problem, strict=True):
        if g.answer is not None:
            by_problem[p].add(g.answer)
    pairs = split = 0
    for answers in by_problem.values():
        a = sorted(answers)
        for i in range(len(a)):
            for j in range(i + 1, len(a)):
                pairs += 1
                split += is_equivalent(task, a[i], a[j])
    return split, pairs


def baseline_math_verify(texts, refs) -> float:
    """Plain baseline: math-verify parse + verify on every solution, no caching. Returns seconds."""
    from math_verify import parse, verify

    t0 = time.perf_counter()
    for text, ref in zip(texts, refs, strict=True):
        verify(parse(f"${ref}$"), parse(text))
    return time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--reference-dir", type=Path, default=DEFAULT_DIR)
    ap.add_argument("--show", type=int, default=5, help="examples shown per disagreement category")
    ap.add_argument("--no-baseline", action="store_true", help="skip the math-verify baseline timing")
    args = ap.parse_args()

    texts, refs, labels = load_gsm8k(args.reference_dir / "gsm8k_example_model_solutions.jsonl")
    report("GSM8K example model solutions (label: is_correct)", "gsm8k", texts, refs, labels, show=args.show)

    qt, qr, ql, qp, qprob = load_qwen(args.reference_dir / "qwen25_math_cot_100.jsonl")
    grades = report("Qwen2.5-Math CoT on MATH, 100 x 8 (label: score)", "math", qt, qr, ql, qp, show=args.show)
    same_pred = sum(canonical_answer("math", extract_answer("math", t) or "") == canonical_answer("math", p)
                    for t, p in zip(qt, qp, strict=True) if p)
    print(f"extraction: canonical answer equals the labeller's canonical pred for {same_pred}/{len(qt)} solutions")
    split, pairs = split_votes("math", grades, qprob)
    print(f"canonical answers: {split} of {pairs} pairs of distinct answer strings within a problem are "
          f"equivalent (split votes)")
    rows = [json.loads(x) for x in open(Path(__file__).resolve().parents[1] / "data" / "tasks" / "math500.jsonl")]
    report("MATH500 reference solutions against their own answers (label: all correct)", "math500",
           [r["solution"] for r in rows], [r["answer"] for r in rows], [True] * len(rows), show=args.show)

    grading.clear_caches()
    grading.sandbox.ISOLATE = True
    t0 = time.perf_counter()
    iso = grade_many("math", qt, qr)
    t_iso = time.perf_counter() - t0
    grading.sandbox.ISOLATE = False
    print(f"\nisolated mode (every symbolic step in the helper process): {len(qt) / t_iso:,.0f} solutions/s "
          f"cold on the 800 MATH solutions, same grades: {iso == grades}")
    if not args.no_baseline:
        grading.clear_caches()
        t0 = time.perf_counter()
        grade_many("math", qt, qr)
        ours = time.perf_counter() - t0
        base = baseline_math_verify(qt, qr)
        print(f"\nspeed vs plain math-verify on the 800 MATH solutions: ours {len(qt) / ours:,.0f}/s, "
              f"baseline {len(qt) / base:,.0f}/s, ratio {base / ours:.1f}x")


if __name__ == "__main__":
    main()
