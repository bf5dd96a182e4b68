"""Write the search-and-learn and Large Language Monkeys fixtures of tests/test_readers.py (run by hand).

Neither tool runs here (both need vLLM and a GPU, search-and-learn a hub dataset and a hub PRM), so their
files are built from their published schemas with real samples: ``python -m collect sample`` draws 8
solutions for each of 8 arithmetic problems from the bundled ``arith-neox-113k`` policy and ``python -m
collect score`` scores every step with the bundled ``arith-verifier-1.9m`` process reward model.  Those
samples are then written

* as search-and-learn writes ``best_of_n_completions.jsonl`` (huggingface/search-and-learn,
  ``src/sal/search/best_of_n.py``, ``src/sal/utils/score.py``, ``src/sal/utils/data.py``): the input row
  (MATH-500's fields ``problem, solution, answer, subject, level, unique_id``) followed by ``completions``,
  ``scores`` (per completion, per step), ``pred``, ``completion_tokens``, ``agg_scores`` (last step) and
  ``pred_weighted@n``, ``pred_maj@n``, ``pred_naive@n`` for n = 1, 2, 4, 8 (over the first n completions);
* as Large Language Monkeys writes an evaluated problem (ScalingIntelligence/large_language_monkeys,
  ``llmonk/generate/gsm8k.py``, ``llmonk/evaluate/math_datasets.py``, ``llmonk/utils.py:save_yaml``): one
  ``<id>.yaml`` per problem with ``prompt, question, samples, gt_answer, is_corrects``, ``yaml.dump(...,
  sort_keys=True)``;

and collect's own table of the same samples (with each text's finish reason and token count) goes to
``expected.parquet``: what the readers must give back.

    python tests/data/tools/make_fixtures.py
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from collections import Counter
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[2]
PROBLEMS = [0, 1, 60, 120, 200, 300, 400, 480]     # rows of data/tasks/arith.jsonl: difficulties 1 to 10


def run(*args: str) -> None:
    subprocess.run([sys.executable, "-m", "collect", *args, "--no-progress"], check=True, cwd=ROOT,
                   stdout=subprocess.DEVNULL)


def boxed(answer: str | None) -> str:
    return "\\boxed{" + (answer or "") + "}"


def main() -> None:
    rows = [json.loads(line) for line in (ROOT / "data/tasks/arith.jsonl").read_text().splitlines()]
    chosen = [rows[i] for i in PROBLEMS]
    with tempfile.TemporaryDirectory() as tmp:
        task = Path(tmp) / "arith.jsonl"
        task.write_text("".join(json.dumps(r) + "\n" for r in chosen))
        out = Path(tmp) / "samples"
        run("sample", "--task", str(task), "--model", "data/models/arith-neox-113k", "--out", str(out), "--n", "8",
            "--template", "raw", "--max-tokens", "160", "--seed", "0")
        run("score", "--samples", str(out), "--reward-model", "data/models/arith-verifier-1.9m")
        table = pd.concat([pd.read_parquet(p) for p in sorted(out.glob("*.parquet"))], ignore_index=True)
        texts = pd.DataFrame([json.loads(line) for p in sorted((out / "texts").glob("*.jsonl"))
                              for line in p.read_text().splitlines()])
    table = table.merge(texts[["problem_id", "sample_id", "text", "finish_reason", "num_tokens"]],
                        on=["problem_id", "sample_id"], validate="one_to_one")
    table = table.sort_values(["problem_id", "sample_id"], ignore_index=True)
    assert (table.num_tokens == table.gen_tokens).all()

    sal = HERE / "search-and-learn"
    monkeys = HERE / "monkeys"
    for d in (sal, monkeys):
        d.mkdir(exist_ok=True)
        for old in d.iterdir():
            old.unlink()
    lines = []
    for prob in chosen:
        g = table[table.problem_id == prob["problem_id"]]
        comps = g.text.tolist()
        scores = [list(map(float, s)) for s in g.step_rewards]
        agg = [s[-1] for s in scores]
        answers = g.answer.tolist()
        line = {"problem": prob["question"], "solution": f"The answer is {prob['answer']}", "answer": prob["answer"],
                "subject": "arithmetic", "level": int(prob["difficulty"]), "unique_id": prob["problem_id"],
                "completions": comps, "scores": scores, "pred": comps[int(np.argmax(agg))],
                "completion_tokens": [int(t) for t in g.gen_tokens], "agg_scores": agg}
        for n in (1, 2, 4, 8):
            a, s = answers[:n], agg[:n]
            sums: dict = {}
            for ans, sc in zip(a, s, strict=True):
                sums[ans] = sums.get(ans, 0.0) + sc
            line[f"pred_weighted@{n}"] = boxed(max(sums, key=sums.get))
            line[f"pred_maj@{n}"] = boxed(Counter(a).most_common(1)[0][0])
            line[f"pred_naive@{n}"] = boxed(a[int(np.argmax(s))])
        lines.append(json.dumps(line))
        with open(monkeys / f"{prob['problem_id']}.yaml", "w") as fh:
            yaml.dump({"prompt": prob["question"] + "\n", "question": prob["question"], "samples": comps,
                       "gt_answer": prob["answer"], "is_corrects": [bool(c) for c in g.correct]}, fh, sort_keys=True)
    (sal / "best_of_n_completions.jsonl").write_text("\n".join(lines) + "\n")
    table.drop(columns="text").to_parquet(HERE / "expected.parquet", index=False)
    print(f"wrote {len(chosen)} problems x 8 samples to {sal}, {monkeys} and {HERE / 'expected.parquet'}")


if __name__ == "__main__":
    main()
