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
    LEVELS,
    MAX_TOTAL,
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
    rng = np.random.default_rng(0)
    for p in a:
        assert parse_question(p.question) == p
        assert all(1 <= abs(t) <= 9 for t in p.terms[1:]) and 10 <= p.terms[0] <= 99
        # every running total of every path stays in 1..MAX_TOTAL: the extremes are all negatives first
        # and all positives first
        neg, pos = sum(t for t in p.terms[1:] if t < 0), sum(t for t in p.terms[1:] if t > 0)
        assert p.terms[0] + neg >= 1 and p.terms[0] + pos <= MAX_TOTAL, p
        for sol in (p.solution(), p.random_solution(rng)):
            assert extract_answer(sol) == str(p.answer)
            assert len(split_steps(sol)) == p.difficulty + 1
            assert all(step_labels(p.question, split_steps(sol)))
    assert {p.difficulty for p in a} == set(LEVELS)


def test_split_matches_shipped_file(tmp_path):
    probs = split_test()
    assert len(probs) == 500 and len({p.question for p in probs}) == 500
    assert np.bincount([p.difficulty for p in probs]).tolist() == [0] + [50] * 10
    path = write_task(probs, tmp_path / "arith.jsonl")
    shipped = ROOT / "data" / "tasks" / "arith.jsonl"
    if shipped.exists():
        assert path.read_text() == shipped.read_text()
    row = json.loads(path.read_text().splitlines()[0])
    assert set(row) == {"problem_id", "question", "answer", "difficulty"}


def test_step_checker():
    p = ArithProblem((12, 7, -3, 5))
    q = p.question
    assert q == "Compute: 12+7-3+5" and p.answer == 21
    assert p.solution() == "12+7=19\n\n19-3=16\n\n16+5=21\n\nThe answer is 21"
    assert p.solution([3, 1, 2]) == "12+5=17\n\n17+7=24\n\n24-3=21\n\nThe answer is 21"
    # every order of the terms is a valid path
    for order in ([1, 2, 3], [3, 2, 1], [2, 3, 1]):
        assert step_labels(q, split_steps(p.solution(order))) == [True] * 4
    # an arithmetic slip makes that step and every step built on it bad; the answer line is judged alone
    assert step_labels(q, ["12+7=19", "19-3=15", "15+5=20", "The answer is 20"]) == [True, False, False, False]
    assert step_labels(q, ["12+7=18", "18-3=15", "15+5=20", "The answer is 21"]) == [False, False, False, True]
    # right arithmetic on a term that is not there, or is used up: bad
    assert step_labels(q, ["12+8=20"]) == [False]
    assert step_labels(q, ["12+7=19", "19+7=26"]) == [True, False]
    # the running total must be carried over
    assert step_labels(q, ["12+7=19", "18-3=15"]) == [True, False]
    # a duplicated term may be used as often as it occurs
    assert step_labels("Compute: 20+4+4", ["20+4=24", "24+4=28", "The answer is 28"]) == [True] * 3
    # too many steps, an early answer, garbage
    assert step_labels(q, ["12+7=19", "19-3=16", "16+5=21", "21+5=26"]) == [True] * 3 + [False]
    assert step_labels(q, ["12+7=19", "The answer is 19"]) == [True, False]
    assert step_labels(q, ["garbage", "The answer is 7"]) == [False, False]
    with pytest.raises(ValueError, match="not an arith question"):
        step_labels("What is 2+2?", ["2+2=4"])
    with pytest.raises(ValueError, match="not a permutation"):
        p.solution([1, 1, 2])


def test_tokenizer_round_trip(tmp_path):
    tok = build_tokenizer()
    texts = [p.question + "\n" + p.solution() for p in generate_problems(20, seed=1)]
    texts += ["Any ASCII text: {x} [1] ~!", prm_mod.prm_text("Compute: 12+3", ["12+3=15"])]
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
    b = encode_batch(tok, [(p, p.solution())])
    n_prompt = len(tok(p.question + "\n")["input_ids"])
    assert (b["labels"][0, :n_prompt] == -100).all()
    assert b["labels"][0, -1] == tok.eos_token_id


def test_a_few_training_steps_reduce_loss(tmp_path):
    torch.set_num_threads(2)
    tok = build_tokenizer()
    model = build_model("arith-neox-32k", seed=0)
    log = train(model, tok, Recipe(steps=30, batch_size=16, warmup=3, lr=3e-3), exclude=set(), progress=False)
    assert np.mean(log["losses"][-5:]) < 0.8 * np.mean(log["losses"][:3])
    folder = save_model(model, tok, tmp_path / "m")
    m2 = transformers.AutoModelForCausalLM.from_pretrained(folder)
    assert n_params(m2) == n_params(model)
    out = generate(m2, tok, ["Compute: 12+3"], max_new_tokens=8)
    assert isinstance(out[0][0], str)


def test_the_plateau_schedule_stops_and_cools_down():
    """Warm-up, constant rate until the validation loss stops improving by plateau_tol over patience
    steps, then a linear cool-down of cooldown x (steps so far); max_steps forces the plateau."""
    from collect.family.train import lr_at

    tok = build_tokenizer()
    r = Recipe(eval_every=10, val_problems=16, patience=20, min_steps=30, max_steps=60, warmup=5,
               plateau_tol=0.5, batch_size=8)
    log = train(build_model("arith-neox-32k", seed=0), tok, r, exclude=set(), progress=False)
    assert log["plateau_step"] in (30, 40, 50, 60)
    assert log["steps"] == log["plateau_step"] + max(r.eval_every, int(r.cooldown * log["plateau_step"]))
    assert [s for s, _ in log["val"]][-1] == log["steps"]
    assert lr_at(2, r) == pytest.approx(r.lr * 3 / 5) and lr_at(100, r) == r.lr
    assert lr_at(70, r, (60, 80)) == pytest.approx(r.lr * (1 - 0.9 * 0.5))
    assert lr_at(80, r, (60, 80)) == pytest.approx(r.lr * r.min_lr_ratio)


def test_prm_training_step_and_scores():
    tok = build_tokenizer()
    model = build_model("arith-neox-32k", seed=0)
    probs = generate_problems(20, seed=5)
    recs = prm_mod.label_solutions([p.question for p in probs], [p.solution() for p in probs])
    bad = [dict(r, steps=["1+1=3"] + r["steps"][1:], labels=[False] * len(r["labels"]), correct=False)
           for r in recs]
    log = prm_mod.train_prm(model, tok, recs + bad, prm_mod.PRMRecipe(steps=3, batch_size=8, warmup=1),
                            progress=False)
    assert len(log["losses"]) == 3
    scores = prm_mod.score_records(model, tok, recs[:4])
    # the project's reward-model scorer reads the same layout and gives the same scores
    from collect.rewards import encode_reward_input

    ids, pos = encode_reward_input(tok, recs[0]["question"], recs[0]["steps"], STEP_TAG)
    assert ids == tok(prm_mod.prm_text(recs[0]["question"], recs[0]["steps"]))["input_ids"]
    assert len(pos) == len(recs[0]["steps"])
    ev = prm_mod.evaluate_prm(model, tok, recs[:4] + bad[:4])
    assert ev["n_solutions"] == 8 and ev["solution_correct_rate"] == 0.5
    assert 0 <= ev["step_balanced_accuracy"] <= 1 and ev["n_groups"] == 4
    assert [len(s) for s in scores] == [len(r["steps"]) for r in recs[:4]]
    assert all(((s > 0) & (s < 1)).all() for s in scores)


def test_verifier_metrics_by_step_against_brute_force():
    from collect.family.metrics import auc, verifier_metrics

    rng = np.random.default_rng(3)
    records, scores = [], []
    for i in range(60):
        n = int(rng.integers(2, 6))
        labels = list(np.cumprod(rng.random(n) < 0.8).astype(bool))
        records.append({"question": f"q{i % 10}", "labels": labels, "correct": bool(labels[-1])})
        scores.append(rng.random(n))
    m = verifier_metrics(scores, records)
    for k, value in m["first_error_auc_by_step"].items():   # steps with every earlier step good, at index k
        at = [i for i, r in enumerate(records) if len(r["labels"]) >= k and all(r["labels"][:k - 1])]
        s, y = [scores[i][k - 1] for i in at], [records[i]["labels"][k - 1] for i in at]
        assert value == pytest.approx(auc(s, y))
        assert m["first_error_count_by_step"][k] == len(y) - sum(y)
        pairs = [(s[i], s[j]) for i in range(len(s)) for j in range(len(s)) if y[i] and not y[j]]
        assert value == pytest.approx(np.mean([(a > b) + 0.5 * (a == b) for a, b in pairs]))


shipped = sorted(p for p in MODELS.glob("arith-*") if (p / "config.json").exists()) if MODELS.exists() else []


@pytest.mark.skipif(not shipped, reason="no shipped family models in data/models")
def test_shipped_models_load_and_generate():
    tok = transformers.AutoTokenizer.from_pretrained(shipped[0])
    total_bytes = 0
    for folder in shipped:
        model = transformers.AutoModelForCausalLM.from_pretrained(folder)
        total_bytes += sum(f.stat().st_size for f in folder.glob("*.safetensors"))
        info = json.loads((folder / "training.json").read_text())
        assert info["params"] == n_params(model)
        if "verifier" in folder.name:
            cfg = json.loads((folder / "reward_config.json").read_text())
            assert cfg["kind"] == "likelihood"
            ev = info["evaluation"]["pooled"]
            assert ev["first_error_auc"] > 0.9 and ev["n_solutions"] > 1000
    assert total_bytes < 20e6
    policies = [f for f in shipped if "neox" in f.name]
    verifiers = [f for f in shipped if "verifier" in f.name]
    assert len(policies) >= 5 and len(verifiers) == 1
    sizes = [json.loads((f / "training.json").read_text())["params"] for f in policies + verifiers]
    assert max(sizes[:-1]) / min(sizes[:-1]) >= 50 and sizes[-1] > max(sizes[:-1])
    largest = max(policies, key=lambda f: json.loads((f / "training.json").read_text())["params"])
    big = transformers.AutoModelForCausalLM.from_pretrained(largest)
    probs = split_test()[:5]
    sols = generate(big, tok, [p.question for p in probs], max_new_tokens=40)
    assert sum(extract_answer(s[0]) == str(p.answer) for s, p in zip(sols, probs, strict=True)) >= 2


def test_quick_build_runs_every_stage_end_to_end(tmp_path):
    """`python -m collect.family build --quick` for two sizes: task, policies and verifier, then collection with
    the toolkit's commands (sample, greedy, score, REBASE, MCTS) and consolidated tables that read back."""
    import pandas as pd

    from collect.family.build import main
    from scaling import read_samples

    out, work = tmp_path / "data", tmp_path / "work"
    assert main(["build", "--quick", "--sizes", "arith-neox-32k,arith-neox-113k", "--jobs", "1",
                 "--out", str(out), "--work", str(work)]) == 0
    arith = {p.name for p in (out / "samples" / "arith").iterdir()}
    assert arith == {f"arith-neox-{s}{g}.parquet" for s in ("32k", "113k") for g in ("", "-greedy")}
    t = pd.read_parquet(out / "samples" / "arith" / "arith-neox-113k.parquet")
    assert len(t) == 10 * 4 and t["reward"].notna().all() and (t["reward_model"] == "arith-verifier-1.9m").all()
    assert sorted(t.groupby("problem_id").size().unique()) == [4]
    sub = read_samples(out / "samples" / "arith-sub100")
    assert set(sub["method"]) == {"sample", "rebase", "mcts"} and set(sub["task"]) == {"arith-sub100"}
    assert set(sub["model"]) == {"arith-neox-113k"}
    # the subset holds every fifth problem of the (limited) task, and sampling rows are its rows only
    assert set(sub["problem_id"]) == {"arith-0000", "arith-0005"}
    # resuming writes nothing new and ships the same tables
    before = {p: p.read_bytes() for p in (out / "samples").rglob("*.parquet")}
    assert main(["build", "--quick", "--only", "collect", "--sizes", "arith-neox-32k,arith-neox-113k",
                 "--jobs", "1", "--out", str(out), "--work", str(work)]) == 0
    after = {p: pd.read_parquet(p) for p in (out / "samples").rglob("*.parquet")}
    assert set(after) == set(before)
    for p, df in after.items():
        assert df.equals(pd.read_parquet(__import__("io").BytesIO(before[p]))), p
