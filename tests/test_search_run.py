"""Whole searches with real (tiny, random-weight) transformers models through the real HF engine and a
real step-tag process reward model: rows, trees, compute accounting, resume, the CLI."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

pytest.importorskip("torch")
pytest.importorskip("transformers")

from helpers_models import build_model, build_reward_model, write_task  # noqa: E402

import scaling  # noqa: E402
from collect.engines.hf import HFEngine  # noqa: E402
from collect.params import SamplingParams  # noqa: E402
from collect.rewards import load_reward_model  # noqa: E402
from collect.search.run import SearchConfig, make_prompt  # noqa: E402
from collect.search.run import search_problems as run_search  # noqa: E402
from collect.store import read_texts, texts_path  # noqa: E402
from collect.tasks import load_task  # noqa: E402

SMALL = dict(sampling=SamplingParams(max_tokens=40, seed=0), step_tokens=12)


pytestmark = pytest.mark.usefixtures("one_thread")   # tiny models: one torch thread (conftest.py)


@pytest.fixture(scope="module")
def assets(tmp_path_factory):
    root = tmp_path_factory.mktemp("search")
    policy = build_model(root / "policy", hidden=32, layers=2, seed=3)
    prm = build_reward_model(root / "prm", hidden=32, layers=2, seed=4)
    task = write_task(root / "tasks" / "toy.jsonl", n=3)
    return {"policy": policy, "prm": prm, "task": task}


@pytest.fixture(scope="module")
def engine(assets):
    return HFEngine(str(assets["policy"]), batch_size=32)


@pytest.fixture(scope="module")
def prm(assets):
    return load_reward_model(str(assets["prm"]))


def _trees(out):
    return pd.concat([pd.read_parquet(p) for p in sorted((out / "trees").glob("*.parquet"))], ignore_index=True)


def _check_run_accounting(rows: pd.DataFrame, trees: pd.DataFrame, prm, problems):
    questions = {p.problem_id: p.question for p in problems}
    for (pid, run_id), g in rows.groupby(["problem_id", "run_id"]):
        t = trees[(trees.problem_id == pid) & (trees.run_id == run_id)].set_index("node_id")
        # every token the run generated is in exactly one node
        assert (g["run_gen_tokens"] == t["tokens"].sum()).all()
        assert t["tokens"].sum() >= g["gen_tokens"].max()
        assert g["sample_id"].tolist() == list(range(len(g)))
        for _, row in g.iterrows():
            node = t.index[t["output"] == row.sample_id]
            assert len(node) == 1
            path, n = [], int(node[0])
            while n != 0:
                path.append(n)
                n = int(t.loc[n, "parent"])
            path = path[::-1]
            assert row.gen_tokens == t.loc[path, "tokens"].sum() == t.loc[path[-1], "path_tokens"]
            assert row.logprob == pytest.approx(t.loc[path, "logprob"].sum())
            assert list(row.step_rewards) == pytest.approx(t.loc[path, "score"].tolist())
            assert row.reward == pytest.approx(row.step_rewards[-1])
            # the PRM scored each node as the partial solution ending there: rescoring the whole path
            # gives the same per-step scores (a causal model's earlier tags do not see later steps)
            rescored = prm.score([questions[pid]], [t.loc[path, "text"].tolist()])[0]
            assert rescored == pytest.approx(list(row.step_rewards), abs=1e-5)


def test_rebase_rows_trees_and_token_accounting(assets, engine, prm, tmp_path):
    problems = load_task(str(assets["task"]))
    cfg = SearchConfig("rebase", 4, **SMALL)
    before = engine.stats["generated_tokens"]
    res = run_search(problems, engine, prm, cfg, out=tmp_path, runs=2, batch_runs=4, template="raw",
                     progress=False)
    assert res.runs_done == 6 and res.runs_skipped == 0 and len(res.tables) == 2
    rows = scaling.read_samples(tmp_path)            # validated against the contract; trees/ is skipped
    trees = _trees(tmp_path)
    # the engine's own counter agrees with the sum over all nodes of all trees
    assert engine.stats["generated_tokens"] - before == trees["tokens"].sum() == res.gen_tokens
    assert set(rows["method"]) == {"rebase"} and set(rows["budget"]) == {4}
    assert rows.groupby(["problem_id", "run_id"]).ngroups == 6
    assert set(rows["run_id"]) == {"rebase-b4-T1-p1-m40-st12-s0-r0", "rebase-b4-T1-p1-m40-st12-s0-r1"}
    assert (rows["model"] == "policy").all() and (rows["reward_model"] == "prm").all()
    assert rows["params"].iloc[0] == engine.params and rows["reward_params"].iloc[0] == prm.params
    prompt_len = {p.problem_id: engine.count_tokens(make_prompt(p, "raw")) for p in problems}
    assert (rows["prompt_tokens"] == rows["problem_id"].map(prompt_len)).all()
    assert (rows["gen_tokens"] <= 40).all()
    assert set(rows["difficulty"]) <= {"1", "2", "3"}
    # finished solutions only (answer, EOS or the token cap), and the cap applies to the whole path
    finished = trees[trees["output"] >= 0]
    assert set(finished["finish"]) <= {"answer", "eos", "length"}
    assert {"eos", "length"} <= set(finished["finish"])       # both occur with these seeds
    assert (finished.loc[finished["finish"] == "length", "path_tokens"] >= 40).all()
    assert (trees.loc[trees["node_id"] > 0, "tokens"] <= 12).all()
    _check_run_accounting(rows, trees, prm, problems)
    # the toolkit's compute accounting charges the whole run to every tree-search row
    flops = scaling.flops.row_flops(rows)["flops"]
    assert (flops == 2 * rows["params"] * rows["run_gen_tokens"]).all()
    # and the rows flow through scaling.evaluate: one unit per run, k = the budget, cost = the run's
    curves = scaling.evaluate(rows, strategies=["majority", "weighted_majority", "best_of_n"], n_boot=0).curves
    assert set(curves["method"]) == {"rebase"} and set(curves["k"]) == {4}
    run_cost = rows.groupby(["problem_id", "run_id"])["run_gen_tokens"].first().mean() * 2 * engine.params
    assert curves["flops"].to_numpy() == pytest.approx(run_cost)


def test_resume_skips_finished_runs_and_reproduces_a_lost_batch(assets, engine, prm, tmp_path):
    problems = load_task(str(assets["task"]), limit=2)
    cfg = SearchConfig("rebase", 3, variant="released", **SMALL)
    res = run_search(problems, engine, prm, cfg, out=tmp_path, runs=2, batch_runs=2, template="raw",
                     progress=False)
    assert res.runs_done == 4 and len(res.tables) == 2
    first = scaling.read_samples(tmp_path)
    # released variant: exactly B children per depth, so every run ends with exactly B solutions
    assert (first.groupby(["problem_id", "run_id"]).size() == 3).all()
    again = run_search(problems, engine, prm, cfg, out=tmp_path, runs=2, batch_runs=2, template="raw",
                       progress=False)
    assert again.runs_done == 0 and again.runs_skipped == 4
    lost = res.tables[-1]
    lost_rows = pd.read_parquet(lost)
    lost.unlink()
    redo = run_search(problems, engine, prm, cfg, out=tmp_path, runs=2, batch_runs=2, template="raw",
                      progress=False)
    assert redo.runs_done == 2 and len(redo.tables) == 1
    # the lost part's texts and trees were orphans: removed; the same batch has the same seed: the same rows
    assert not (tmp_path / "trees" / lost.name).exists() and not texts_path(lost).exists()
    pd.testing.assert_frame_equal(pd.read_parquet(redo.tables[0]), lost_rows)
    assert len(read_texts(redo.tables[0])) == len(lost_rows)
    more = run_search(problems, engine, prm, cfg, out=tmp_path, runs=3, batch_runs=2, template="raw",
                      progress=False)
    assert more.runs_done == 2 and more.runs_skipped == 4
    assert scaling.read_samples(tmp_path).groupby(["problem_id", "run_id"]).ngroups == 6


def test_mcts_keeps_every_leaf_and_unfinished_ones_have_no_answer(assets, engine, prm, tmp_path):
    problems = load_task(str(assets["task"]), limit=2)
    cfg = SearchConfig("mcts", 3, expansions=5, **SMALL)
    res = run_search(problems, engine, prm, cfg, out=tmp_path, runs=1, template="raw", progress=False)
    rows = scaling.read_samples(tmp_path)
    trees = _trees(tmp_path)
    assert set(rows["method"]) == {"mcts"} and res.runs_done == 2
    for (pid, run_id), g in rows.groupby(["problem_id", "run_id"]):
        t = trees[(trees.problem_id == pid) & (trees.run_id == run_id)]
        assert len(g) == t["leaf"].sum()
        assert t["node_id"].max() <= 3 + 2 * 4              # root: 3 children, then at most 4 x 2
        assert (t["visits"].iloc[0] >= t["node_id"].max())  # every new node was backed up to the root
        unfinished = g[g["sample_id"].isin(t.loc[t["leaf"] & t["finish"].isna(), "output"])]
        assert unfinished["answer"].isna().all() and not unfinished["correct"].any()
    _check_run_accounting(rows, trees, prm, problems)


def test_repeated_prefix_mode_gives_the_same_accounting(assets, engine, prm, tmp_path):
    """k copies of a prefix with n=1 in one call per round (the vLLM mode) instead of n=k per node."""
    problems = load_task(str(assets["task"]), limit=2)
    cfg = SearchConfig("rebase", 4, **SMALL)
    before = engine.stats["prompts"]
    res = run_search(problems, engine, prm, cfg, out=tmp_path, runs=1, template="raw", progress=False,
                     expander_kw={"siblings_as_n": False})
    rows = scaling.read_samples(tmp_path)
    trees = _trees(tmp_path)
    # every child is its own prompt: as many prompts as non-root nodes
    assert engine.stats["prompts"] - before == (trees["node_id"] > 0).sum()
    assert res.gen_tokens == trees["tokens"].sum()
    _check_run_accounting(rows, trees, prm, problems)


def test_cli_writes_tables_and_resumes(assets, tmp_path, capsys):
    from collect.cli import main

    argv = ["search", "--algo", "rebase", "--budget", "2", "3", "--runs", "1", "--task", str(assets["task"]),
            "--model", str(assets["policy"]), "--reward-model", str(assets["prm"]), "--out", str(tmp_path),
            "--limit", "2", "--template", "raw", "--max-tokens", "24", "--step-tokens", "8",
            "--device", "cpu", "--no-progress"]
    assert main(argv) == 0
    out = json.loads(capsys.readouterr().out)
    assert [s["runs_done"] for s in out["searches"]] == [2, 2]
    rows = scaling.read_samples(tmp_path)
    assert sorted(set(rows["budget"])) == [2, 3] and rows["problem_id"].nunique() == 2
    assert main(argv) == 0
    out = json.loads(capsys.readouterr().out)
    assert [(s["runs_done"], s["runs_skipped"]) for s in out["searches"]] == [(0, 2), (0, 2)]
    # a bad task is a clear error, not a traceback
    assert main(argv[:9] + ["nonexistent-task"] + argv[10:]) == 2
    assert "nonexistent-task" in capsys.readouterr().err


def test_end_of_sequence_and_step_delimiter_are_told_apart(engine, prm):
    from collect.engines.base import Completion
    from collect.search import ModelExpander

    ex = ModelExpander(engine, prm)
    eos = min(engine.eos_ids)
    assert ex._is_eos(Completion("x", [5, eos], -1.0, "stop", 2))
    assert not ex._is_eos(Completion("x", [5, 6], -1.0, "stop", 2, stop_reason="\n\n"))
    assert not ex._is_eos(Completion("x", [5, 6], -1.0, "length", 2))


def test_bad_configuration_is_refused():
    with pytest.raises(ValueError, match="algorithm"):
        SearchConfig("beam", 4)
    with pytest.raises(ValueError, match="budget"):
        SearchConfig("rebase", 0)
    with pytest.raises(ValueError, match="variant"):
        SearchConfig("rebase", 4, variant="v2")


def test_at_equal_flops_interpolates_sampling_in_log_flops():
    from collect.search.compare import at_equal_flops

    curves = pd.DataFrame({
        "task": "t", "model": "m", "strategy": "majority",
        "method": ["sample", "sample", "sample", "rebase", "rebase", "mcts"],
        "k": [1, 2, 8, 4, 16, 4], "flops": [10.0, 20.0, 80.0, 40.0, 200.0, 5.0],
        "accuracy": [0.1, 0.3, 0.6, 0.55, 0.7, 0.2]})
    out = at_equal_flops(curves).set_index(["method", "k"])
    # 40 lies halfway between 20 and 80 in log FLOPs -> (0.3 + 0.6) / 2; costs as much as 4 samples
    assert out.loc[("rebase", 4), "sample_accuracy"] == pytest.approx(0.45)
    assert out.loc[("rebase", 4), "gain"] == pytest.approx(0.10)
    assert out.loc[("rebase", 4), "sample_k_for_flops"] == pytest.approx(4.0)
    assert np.isnan(out.loc[("rebase", 16), "sample_accuracy"])     # beyond the sampling curve
    edge = at_equal_flops(curves.assign(flops=curves["flops"].where(curves["k"] != 16, 81.0)))
    assert edge.set_index(["method", "k"]).loc[("rebase", 16), "sample_accuracy"] == pytest.approx(0.6)
    assert np.isnan(out.loc[("mcts", 4), "sample_accuracy"])
    with pytest.raises(ValueError, match="flops"):
        at_equal_flops(curves.drop(columns=["flops"]))
