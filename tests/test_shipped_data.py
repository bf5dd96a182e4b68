"""The data shipped in data/ meets its contract: what the model family produced, complete and in budget."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

import scaling

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "data"
SIZES = ["32k", "113k", "163k", "244k", "423k", "652k", "930k", "1.3m", "1.6m"]


def _size_mb(folder: Path, pattern: str) -> float:
    return sum(p.stat().st_size for p in folder.rglob(pattern) if p.is_file()) / 1e6


def test_budgets_of_shipped_files():
    assert _size_mb(DATA / "samples", "*") < 30
    assert _size_mb(DATA / "models", "*.safetensors") < 20


def test_family_tables_have_256_scored_samples_and_greedy_rows():
    task = [json.loads(ln) for ln in (DATA / "tasks" / "arith.jsonl").read_text().splitlines()]
    ids = {r["problem_id"] for r in task}
    assert len(ids) >= 500
    for size in SIZES:
        t = scaling.read_samples(DATA / "samples" / "arith" / f"arith-neox-{size}.parquet")
        counts = t.groupby("problem_id").size()
        assert set(counts.index) == ids and counts.min() >= 256, size
        assert t["reward"].notna().all() and t["reward_model"].nunique() == 1, size
        assert t["step_rewards"].dropna().map(len).min() >= 1
        g = scaling.read_samples(DATA / "samples" / "arith" / f"arith-neox-{size}-greedy.parquet")
        assert set(g["method"]) == {"greedy"} and set(g["problem_id"]) == ids and len(g) == len(ids)


@pytest.mark.parametrize("algo", ["rebase", "mcts"])
def test_tree_search_at_budgets_4_to_64_for_two_sizes(algo):
    t = scaling.read_samples(DATA / "samples" / "arith-sub100")
    t = t[t["method"] == algo]
    per_model = t.groupby("model")["budget"].agg(lambda b: sorted(set(b)))
    assert sum(b == [4, 8, 16, 32, 64] for b in per_model) >= 2
    runs = t.groupby(["model", "budget"])[["problem_id", "run_id"]].apply(lambda d: d.drop_duplicates().shape[0])
    assert (runs >= 100).all()


def test_subset_sampling_rows_are_the_full_tables_rows():
    sub = scaling.read_samples(DATA / "samples" / "arith-sub100")
    s = sub[sub["method"] == "sample"]
    for model, rows in s.groupby("model"):
        full = pd.read_parquet(DATA / "samples" / "arith" / f"{model}.parquet")
        full = full[full["problem_id"].isin(set(rows["problem_id"]))]
        assert len(full) == len(rows)
        a = rows.sort_values(["problem_id", "sample_id"])["reward"].to_numpy()
        b = full.sort_values(["problem_id", "sample_id"])["reward"].to_numpy()
        assert (a == b).all(), model
