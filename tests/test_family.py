"""Tests of the bundled model family: task generator, step checker, tokenizer, training, shipped models."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")

from collect.family import prm as prm_mod  # noqa: E402
from collect.family.model import build_model, n_params, save_model  # noqa: E402
from collect.family.task import (  # noqa: E402
    MAX_VALUE,
    ArithProblem,
    extract_answer,
    generate_problems,
    parse_question,
    split_steps,
    split_test,
    step_labels,
    write_task,
)
from collect.family.tokenizer import STEP_TAG, build_tokenizer  # noqa: E402
from collect.family.train import Recipe, encode_batch, generate, train  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
MODELS = ROOT / "data" / "models"


def test_generator_is_deterministic_and_valid():
    a = generate_problems(200, seed=3)
    b = generate_problems(200, seed=3)
    c = generate_problems(200, seed=4)
    assert [p.question for p in a] == [p.question for p in b]
    assert [p.question for p in a] != [p.question for p in c]
    for p in a:
        vals = p.values()
        assert all(1 <= v <= MAX_VALUE for v in vals), p
        assert parse_question(p.question) == p
        assert extract_answer(p.solution()) == str(p.answer)
        assert len(split_steps(p.solution())) == p.difficulty + 1
    assert {p.difficulty for p in a} == {1, 2, 3, 4, 5}


def test_split_matches_shipped_file(tmp_path):
    probs = split_test()
    assert len(probs) == 500 and len({p.question for p in probs}) == 500
    path = write_task(probs, tmp_path / "arith.jsonl")
    shipped = ROOT / "data" / "tasks" / "arith.jsonl"
    if shipped.exists():
        assert path.read_text() == shipped.read_text()
    row = json.loads(path.read_text().splitlines()[0])
    assert set(row) == {"problem_id", "question", "answer", "difficulty"}


def test_step_checker():
    p = ArithProblem(12, (("+", 7), ("*", 3), ("-", 5)))
    assert p.solution() == "Step 1: 12+7=19\n\nStep 2: 19*3=57\n\nStep 3: 57-5=52\n\nThe answer is 52"
    q = p.question
    assert step_labels(q, split_steps(p.solution())) == [True] * 4
    # an arithmetic slip makes that step and every step built on it bad
    assert step_labels(q, ["Step 1: 12+7=19", "Step 2: 19*3=56", "Step 3: 56-5=51", "The answer is 51"]) == [
        True, False, False, False]
    # arithmetic right but the wrong operand copied from the question: bad
    assert step_labels(q, ["Step 1: 12+8=20"]) == [False]
    # a later step that restores the true running value is good again (the answer is reachable)
    assert step_labels(q, ["Step 1: 12+7=18", "Step 2: 19*3=57"]) == [False, True]
    assert step_labels(q, ["Step 1: 12+7=19", "Step 4: 19*3=57", "The answer is 52"]) == [True, False, True]
    assert step_labels(q, ["garbage", "The answer is 7"]) == [False, False]
    with pytest.raises(ValueError, match="not an arith question"):
        step_labels("What is 2+2?", ["Step 1: 2+2=4"])


def test_tokenizer_round_trip(tmp_path):
    tok = build_tokenizer()
    texts = [p.question + "\n" + p.solution() for p in generate_problems(20, seed=1)]
    texts += ["Any ASCII text: {x} [1] ~!", prm_mod.prm_text("Evaluate left to right: 2+3", ["Step 1: 2+3=5"])]
    for t in texts:
        assert tok.decode(tok(t)["input_ids"]) == t
    assert STEP_TAG in tok.get_vocab() and "+" in tok.get_vocab() and "-" in tok.get_vocab()
    assert len(tok("Step 1: ")["input_ids"]) == 4  # "Step " is one token
    tok.save_pretrained(tmp_path)
    tok2 = transformers.AutoTokenizer.from_pretrained(tmp_path)
    assert tok2(texts[0])["input_ids"] == tok(texts[0])["input_ids"]


def test_labels_mask_the_prompt():
    tok = build_tokenizer()
    p = generate_problems(1, seed=0)[0]
    b = encode_batch(tok, [p])
    n_prompt = len(tok(p.question + "\n")["input_ids"])
    assert (b["labels"][0, :n_prompt] == -100).all()
    assert b["labels"][0, -1] == tok.eos_token_id


def test_a_few_training_steps_reduce_loss(tmp_path):
    torch.set_num_threads(2)
    tok = build_tokenizer()
    model = build_model("arith-neox-20k", seed=0)
    log = train(model, tok, Recipe(steps=30, batch_size=16, warmup=3, lr=3e-3), exclude=set(), progress=False)
    assert np.mean(log["losses"][-5:]) < 0.8 * np.mean(log["losses"][:3])
    folder = save_model(model, tok, tmp_path / "m")
    m2 = transformers.AutoModelForCausalLM.from_pretrained(folder)
    assert n_params(m2) == n_params(model)
    out = generate(m2, tok, ["Evaluate left to right: 2+3"], max_new_tokens=8)
    assert isinstance(out[0][0], str)


def test_prm_training_step_and_scores():
    tok = build_tokenizer()
    model = build_model("arith-neox-20k", seed=0)
    probs = generate_problems(20, seed=5)
    recs = prm_mod.label_solutions([p.question for p in probs], [p.solution() for p in probs])
    bad = [dict(r, steps=["Step 1: 1+1=3"] + r["steps"][1:], labels=[False] * len(r["labels"]), correct=False)
           for r in recs]
    log = prm_mod.train_prm(model, tok, recs + bad, prm_mod.PRMRecipe(steps=3, batch_size=8, warmup=1),
                            progress=False)
    assert len(log["losses"]) == 3
    scores = prm_mod.score_records(model, tok, recs[:4])
    # the project's reward-model scorer reads the same layout and gives the same scores
    from collect.reward import encode_reward_input

    ids, pos = encode_reward_input(tok, recs[0]["question"], recs[0]["steps"], STEP_TAG)
    assert ids == tok(prm_mod.prm_text(recs[0]["question"], recs[0]["steps"]))["input_ids"]
    assert len(pos) == len(recs[0]["steps"])
    ev = prm_mod.evaluate_prm(model, tok, recs[:4] + bad[:4])
    assert ev["n_solutions"] == 8 and ev["solution_correct_rate"] == 0.5
    assert 0 <= ev["step_balanced_accuracy"] <= 1 and ev["n_groups"] == 4
    assert [len(s) for s in scores] == [len(r["steps"]) for r in recs[:4]]
    assert all(((s > 0) & (s < 1)).all() for s in scores)


shipped = sorted(p for p in MODELS.glob("arith-*") if (p / "config.json").exists()) if MODELS.exists() else []


@pytest.mark.skipif(not shipped, reason="no shipped family models in data/models")
def test_shipped_models_load_and_generate():
    tok = transformers.AutoTokenizer.from_pretrained(shipped[0])
    total_bytes = 0
    for folder in shipped:
        model = transformers.AutoModelForCausalLM.from_pretrained(folder)
        total_bytes += sum(f.stat().st_size for f in folder.glob("*.safetensors"))
        if "prm" in folder.name:
            cfg = json.loads((folder / "reward_config.json").read_text())
            assert cfg == prm_mod.REWARD_CONFIG
            continue
        info = json.loads((folder / "training.json").read_text())
        assert info["params"] == n_params(model)
    assert total_bytes < 20e6
    policies = [f for f in shipped if "prm" not in f.name]
    largest = max(policies, key=lambda f: json.loads((f / "training.json").read_text())["params"])
    big = transformers.AutoModelForCausalLM.from_pretrained(largest)
    probs = split_test()[:5]
    sols = generate(big, tok, [p.question for p in probs], max_new_tokens=40)
    assert sum(extract_answer(s[0]) == str(p.answer) for s, p in zip(sols, probs, strict=True)) >= 2


def test_quick_build_runs_every_stage_end_to_end(tmp_path):
    """`python -m collect.family build --quick` for two sizes: task, policies, PRM, then collection with the
    toolkit's commands (sample, greedy, score, REBASE, MCTS) and consolidated tables that read back."""
    import pandas as pd

    from collect.family.build import main
    from scaling import read_samples

    out, work = tmp_path / "data", tmp_path / "work"
    assert main(["build", "--quick", "--sizes", "arith-neox-20k,arith-neox-65k", "--threads", "1",
                 "--out", str(out), "--work", str(work)]) == 0
    arith = {p.name for p in (out / "samples" / "arith").iterdir()}
    assert arith == {f"arith-neox-{s}{g}.parquet" for s in ("20k", "65k") for g in ("", "-greedy")}
    t = pd.read_parquet(out / "samples" / "arith" / "arith-neox-65k.parquet")
    assert len(t) == 10 * 4 and t["reward"].notna().all() and (t["reward_model"] == "arith-prm-65k").all()
    assert sorted(t.groupby("problem_id").size().unique()) == [4]
    sub = read_samples(out / "samples" / "arith-sub100")
    assert set(sub["method"]) == {"sample", "rebase", "mcts"} and set(sub["task"]) == {"arith-sub100"}
    assert set(sub["model"]) == {"arith-neox-65k"}
    # the subset holds every fifth problem of the (limited) task, and sampling rows are its rows only
    assert set(sub["problem_id"]) == {"arith-0000", "arith-0005"}
    # resuming writes nothing new and ships the same tables
    before = {p: p.read_bytes() for p in (out / "samples").rglob("*.parquet")}
    assert main(["build", "--quick", "--only", "collect", "--sizes", "arith-neox-20k,arith-neox-65k",
                 "--threads", "1", "--out", str(out), "--work", str(work)]) == 0
    after = {p: pd.read_parquet(p) for p in (out / "samples").rglob("*.parquet")}
    assert set(after) == set(before)
    for p, df in after.items():
        assert df.equals(pd.read_parquet(__import__("io").BytesIO(before[p]))), p
