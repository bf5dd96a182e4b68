"""Convert the shipped Qwen2.5-Math reference outputs into a sample table.

Source: ../shared/data/reference/qwen25_math_cot_100.jsonl (100 MATH problems x 8 sampled solutions with
extracted answers, correctness and a 72B reward model's scores; from the Qwen2.5-Math evaluation folder,
MIT licence).  Assumptions, recorded in the table: the policy is Qwen2.5-Math-7B-Instruct (7.62e9
parameters), the verifier Qwen2.5-Math-RM-72B (72.7e9); token counts are approximate (no tokenizer can
be downloaded here; ``token_count == "approx"``); reward logits are mapped to (0, 1) by a sigmoid.

    python data/make_reference_table.py [SOURCE] [--out data/samples/reference/qwen25-math-7b-math100.parquet]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import scaling

HERE = Path(__file__).resolve().parent
DEFAULT_SRC = HERE.parent.parent / "shared" / "data" / "reference" / "qwen25_math_cot_100.jsonl"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("source", nargs="?", default=str(DEFAULT_SRC))
    ap.add_argument("--out", default=str(HERE / "samples" / "reference" / "qwen25-math-7b-math100.parquet"))
    args = ap.parse_args()
    df = scaling.from_list_jsonl(args.source, task="math100", model="Qwen2.5-Math-7B-Instruct", params=7.62e9,
                                 reward_model="Qwen2.5-Math-RM-72B", reward_params=72.7e9,
                                 reward_transform="sigmoid", temperature=None)
    scaling.write_samples(df, args.out)
    print(f"wrote {len(df)} rows ({df.problem_id.nunique()} problems) to {args.out}")


if __name__ == "__main__":
    main()
