"""The lm-evaluation-harness and Inspect readers on files the real tools write.

Each tool runs once per session, offline on CPU, with the bundled arith-neox-113k policy (a GPT-NeoX with a
character-level tokenizer, loaded from data/models/ by transformers) over a few problems of
data/tasks/arith.jsonl (tests/data/tools/lm_eval/arith_reader.yaml, tests/data/tools/inspect/arith_task.py).
The tables the readers make are checked against what each tool itself reports: lm-eval's accuracy over the
first response and its majority-vote filter, Inspect's mean and pass_at_2 reducers.

The tools come with ``pip install -e '.[eval-tools]'`` (.ci/run installs them and sets SCALING_REQUIRE_TOOLS=1,
so that a missing tool fails there instead of skipping).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections import Counter
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import scaling
from scaling.fit import main
from scaling.readers import read_inspect, read_lm_eval, safetensors_params

ROOT = Path(__file__).resolve().parents[1]
TOOLS = ROOT / "tests" / "data" / "tools"
MODEL = ROOT / "data" / "models" / "arith-neox-113k"
ROWS = [0, 1, 2, 60, 120, 160, 200, 250, 300, 350, 400, 480]     # difficulties 1 to 10
OFFLINE = {"HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1",
           "TOKENIZERS_PARALLELISM": "false", "INSPECT_DISPLAY": "none", "NO_COLOR": "1"}


def _tool(module: str):
    if os.environ.get("SCALING_REQUIRE_TOOLS"):
        return __import__(module)
    return pytest.importorskip(module, reason="pip install -e '.[eval-tools]'")


def _problems(d: Path, name: str, rows=ROWS) -> Path:
    lines = (ROOT / "data" / "tasks" / "arith.jsonl").read_text().splitlines()
    path = d / name
    path.write_text("".join(lines[i] + "\n" for i in rows))
    return path


def _run(cmd: list[str], cwd: Path) -> None:
    timeout = int(os.environ.get("SCALING_TOOL_TIMEOUT", 600))      # seconds per tool run (about 30 on an idle CPU)
    env = {**os.environ, **OFFLINE, "HF_HOME": str(cwd / "hf"), "HF_DATASETS_CACHE": str(cwd / "hf" / "datasets")}
    r = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    assert r.returncode == 0, f"{cmd[:4]} failed:\n{r.stdout[-3000:]}\n{r.stderr[-3000:]}"


@pytest.fixture(scope="session")
def lm_eval_out(tmp_path_factory) -> Path:
    """``lm_eval --log_samples`` on 12 problems x 8 samples; returns the output folder."""
    _tool("lm_eval")
    d = tmp_path_factory.mktemp("lm_eval")
    _problems(d, "arith_reader.jsonl")
    (d / "tasks").mkdir()
    shutil.copy(TOOLS / "lm_eval" / "arith_reader.yaml", d / "tasks")
    _run([sys.executable, "-m", "lm_eval", "--model", "hf", "--model_args", f"pretrained={MODEL},dtype=float32",
          "--tasks", "arith_reader", "--include_path", "tasks", "--log_samples", "--output_path", "out",
          "--device", "cpu", "--batch_size", "32", "--seed", "0"], d)
    return d / "out"


def _lm_eval_files(out: Path) -> tuple[Path, dict, list[dict]]:
    (samples,) = out.rglob("samples_arith_reader_*.jsonl")
    (results,) = out.rglob("results_*.json")
    lines = [json.loads(x) for x in samples.read_text().splitlines()]
    return samples, json.loads(results.read_text()), lines


def test_lm_eval_first_response_is_the_harness_score(lm_eval_out):
    samples, results, lines = _lm_eval_files(lm_eval_out)
    df = read_lm_eval(samples)
    assert len(df) == 12 * 8 and set(df.sample_id) == set(range(8))
    assert (df.model == "arith-neox-113k").all() and (df.method == "sample").all() and (df.temperature == 1.0).all()
    assert (df.params == results["config"]["model_num_parameters"]).all()
    assert results["config"]["model_num_parameters"] == safetensors_params(MODEL)
    first = df[df.sample_id == 0].set_index("problem_id")
    logged = {str(x["doc_id"]): x for x in lines if x["filter"] == "score-first"}
    for pid, x in logged.items():                 # the same answer as the harness's filter, response by response
        assert first.loc[pid, "answer"] == (None if x["filtered_resps"][0] == "[invalid]" else x["filtered_resps"][0])
        assert first.loc[pid, "correct"] == bool(x["exact_match"])
    assert first.correct.mean() == pytest.approx(results["results"]["arith_reader"]["exact_match,score-first"], abs=1e-12)
    # tokens: the model's own tokenizer (transformers) on the logged texts; prompts are question + "\n"
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(MODEL)
    n_tok = {(pid, i): len(tok.encode(r, add_special_tokens=False))
             for pid, x in logged.items() for i, r in enumerate(x["resps"][0])}
    assert df.gen_tokens.tolist() == [n_tok[k] for k in zip(df.problem_id, df.sample_id, strict=True)]
    n_prompt = {p: len(tok.encode(x["doc"]["question"] + "\n", add_special_tokens=False)) for p, x in logged.items()}
    assert df.prompt_tokens.tolist() == df.problem_id.map(n_prompt).tolist()


def test_lm_eval_majority_vote_is_our_majority(lm_eval_out):
    samples, results, lines = _lm_eval_files(lm_eval_out)
    df = read_lm_eval(samples, problem_id="problem_id", difficulty="difficulty")
    ev = scaling.evaluate(df, n_boot=10, extrapolate=())
    ours = ev.per_problem.query("strategy == 'majority' and k == 8").set_index("problem_id").accuracy
    harness = {x["doc"]["problem_id"]: float(x["exact_match"]) for x in lines if x["filter"] == "maj@8"}
    clean = []
    for pid, g in df.sort_values("sample_id").groupby("problem_id"):
        answers = ["[invalid]" if a is None else a for a in g.answer]
        counts = Counter(answers).most_common()
        # the harness's vote on our answers (first seen wins a tie; "[invalid]" may win) is its logged verdict:
        # both read the same answers
        winner = counts[0][0]
        assert float(winner != "[invalid]" and bool(g.correct[g.answer == winner].iloc[0])) == harness[pid]
        tie = len(counts) > 1 and counts[1][1] == counts[0][1]
        if not tie and counts[0][0] != "[invalid]":
            clean.append(pid)
            assert ours[pid] == harness[pid]      # no tie, a real answer wins: the same vote
    assert len(clean) >= 6              # enough clear votes for the comparison to mean something
    acc = ev.curves.query("strategy == 'majority' and k == 8").accuracy.iloc[0]
    logged = results["results"]["arith_reader"]["exact_match,maj@8"]
    assert abs(acc - logged) <= (12 - len(clean)) / 12 + 1e-12
    if len(clean) == 12:
        assert acc == pytest.approx(logged, abs=1e-12)


def test_lm_eval_with_collects_grader(lm_eval_out):
    grade = pytest.importorskip("collect.grading").grade
    samples, _, _ = _lm_eval_files(lm_eval_out)
    rule = read_lm_eval(samples)
    ours = read_lm_eval(samples, grade=grade)
    assert set(ours.grader) == {"collect.grading:grade"}
    found = rule.answer.notna().to_numpy()
    assert (ours.answer[found] == rule.answer[found]).all() and (ours.correct[found] == rule.correct[found]).all()


def test_lm_eval_refusals(lm_eval_out, tmp_path):
    samples, results, lines = _lm_eval_files(lm_eval_out)
    alone = tmp_path / samples.name
    shutil.copy(samples, alone)                   # no results file beside it
    with pytest.raises(scaling.SchemaError, match=r"no model name \(no results file beside it\); pass model="):
        read_lm_eval(alone)
    with pytest.raises(scaling.SchemaError, match="grade='task' needs the task's configuration"):
        read_lm_eval(alone, model="m", params=1)
    with pytest.raises(scaling.SchemaError, match="parameter count of model 'm'; pass params="):
        read_lm_eval(alone, model="m", grade=lambda t, x, r: (None, False))
    with pytest.raises(scaling.SchemaError, match="no token counts.*pass tokenizer="):
        read_lm_eval(alone, grade=lambda t, x, r: (None, False), params=1, model="m")
    broken = lines[:3] + [dict(lines[3], resps=[["changed"] * 8])] + lines[4:]
    twin = [i for i, x in enumerate(broken) if x["doc_id"] == broken[3]["doc_id"] and i != 3]
    bad = tmp_path / "run" / samples.name
    bad.parent.mkdir()
    shutil.copy(next(samples.parent.glob("results_*.json")), bad.parent)
    bad.write_text("".join(json.dumps(x) + "\n" for x in broken))
    first, second = sorted([3, twin[0]])
    with pytest.raises(scaling.SchemaError, match=rf"record line {second + 1}: field 'resps': responses differ from "
                                                  rf"line {first + 1}"):
        read_lm_eval(bad)
    bad.write_text("".join(json.dumps(x) + "\n" for x in lines[:5]) + "{not json\n")
    with pytest.raises(scaling.SchemaError, match="record line 6: not valid JSON"):
        read_lm_eval(bad)


@pytest.fixture(scope="session")
def inspect_logs(tmp_path_factory) -> tuple[Path, Path]:
    """``inspect eval`` on 8 problems x 4 epochs (one request at a time, so each sample's usage is its own),
    and the same log converted to ``.json`` by ``inspect log convert``."""
    _tool("inspect_ai")
    d = tmp_path_factory.mktemp("inspect")
    problems = _problems(d, "arith_inspect.jsonl", ROWS[:8])
    for f in ("arith_task.py", "model.yaml"):                     # inspect takes task files relative to its cwd
        shutil.copy(TOOLS / "inspect" / f, d)
    inspect = [sys.executable, "-m", "inspect_ai"]
    _run(inspect + ["eval", "arith_task.py", "-T", f"path={problems}", "--model", "hf/local",
                    "-M", f"model_path={MODEL}", "--model-config", "model.yaml",
                    "--max-connections", "1", "--seed", "1", "--log-dir", "logs", "--display", "none"], d)
    (log,) = (d / "logs").glob("*.eval")
    _run(inspect + ["log", "convert", str(log), "--to", "json", "--output-dir", "json"], d)
    (as_json,) = (d / "json").rglob("*.json")
    return log, as_json


def test_inspect_reducers_are_our_pass_at_k(inspect_logs):
    log, as_json = inspect_logs
    df = read_inspect(log, difficulty="difficulty")
    assert len(df) == 8 * 4 and set(df.sample_id) == {0, 1, 2, 3}
    assert (df.model == "arith-neox-113k").all() and (df.params == safetensors_params(MODEL)).all()
    assert (df.temperature == 1.0).all() and set(df.grader) == {"inspect scorer pattern"}
    pd.testing.assert_frame_equal(df, read_inspect(as_json, difficulty="difficulty"))
    import zipfile

    with zipfile.ZipFile(log) as zf:
        names = zf.namelist()
    header = json.loads(as_json.read_text())
    assert sum(n.startswith("samples/") for n in names) == len(df)
    reducers = {s["reducer"]: s["metrics"]["accuracy"]["value"] for s in header["results"]["scores"]}
    ev = scaling.evaluate(df, n_boot=10, extrapolate=())
    passk = ev.curves.query("strategy == 'pass_at_k'").set_index("k").accuracy
    assert passk[1] == pytest.approx(reducers["mean"], abs=1e-12)
    assert passk[2] == pytest.approx(reducers["pass_at_2"], abs=1e-12)


def test_inspect_usage_is_each_samples_own(inspect_logs):
    log, _ = inspect_logs
    usage = read_inspect(log)
    counted = read_inspect(log, tokenizer=MODEL)
    assert set(counted.token_count) == {f"tokenizer {MODEL} (completion text)"}
    # one request at a time: the logged output tokens are the completion's plus the end-of-text token
    # (no completion reached max_tokens=96 here), and the input tokens are the prompt's (question + "\n")
    assert (counted.gen_tokens.max() < 96) and (usage.gen_tokens == counted.gen_tokens + 1).all()
    tok = scaling.readers.token_counter(MODEL)
    rows = [json.loads(x) for x in (ROOT / "data" / "tasks" / "arith.jsonl").read_text().splitlines()]
    prompt = {r["problem_id"]: int(tok([r["question"] + "\n"])[0]) for r in rows}
    assert usage.prompt_tokens.tolist() == usage.problem_id.map(prompt).tolist()


def test_inspect_refusals(inspect_logs, tmp_path):
    _, as_json = inspect_logs
    doc = json.loads(as_json.read_text())
    doc["samples"][5]["scores"]["pattern"]["value"] = "P"
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(doc))
    with pytest.raises(scaling.SchemaError, match=r"bad.json: record samples\[5\]: field 'scores.pattern.value': "
                                                  r"score value 'P' is neither correct nor incorrect"):
        read_inspect(bad)
    doc["samples"][5]["scores"]["pattern"]["value"] = "I"
    del doc["samples"][2]["output"]["usage"]
    bad.write_text(json.dumps(doc))
    with pytest.raises(scaling.SchemaError, match=r"samples\[2\]: no output.usage.output_tokens; pass tokenizer="):
        read_inspect(bad)
    assert len(read_inspect(bad, tokenizer=MODEL)) == 32
    del doc["eval"]["model_args"]["model_path"]
    bad.write_text(json.dumps(doc))
    with pytest.raises(scaling.SchemaError, match="does not record the parameter count of model 'hf/local'"):
        read_inspect(bad, tokenizer=MODEL)


def test_fit_command_reads_a_folder_of_tool_logs(lm_eval_out, inspect_logs, tmp_path, capsys):
    d = tmp_path / "logs"
    shutil.copytree(lm_eval_out, d / "lm_eval")
    shutil.copy(inspect_logs[0], d)
    rc = main([str(d), "--out", str(tmp_path / "fits"), "--figures", "", "--n-boot", "10", "--no-extrapolate",
               "--jobs", "1", "--quiet"])
    out = capsys.readouterr().out
    assert rc == 0, out
    assert "== task arith_reader ==" in out and "== task arith_inspect ==" in out
    assert (tmp_path / "fits" / "arith_reader.json").exists() and (tmp_path / "fits" / "arith_inspect.json").exists()
    rc = main([str(d), "--format", "inspect", "--out", str(tmp_path / "fits2"), "--figures", "", "--n-boot", "10",
               "--no-extrapolate", "--jobs", "1", "--quiet"])
    assert rc == 0 and sorted(p.name for p in (tmp_path / "fits2").iterdir()) == ["arith_inspect.json"]
    assert main([str(d), "--format", "monkeys", "--quiet"]) == 2
    assert "no sample tables found" in capsys.readouterr().err


def test_tokens_are_counted_without_padding():
    tok = scaling.readers.token_counter(MODEL)
    assert list(tok(["1", "Compute: 48-6\n", "48-6=42\n\nThe answer is 42"])) == [1, 6, 11]
    assert np.issubdtype(tok(["a"]).dtype, np.integer)


def test_task_rule_is_the_harness_filter_and_metric():
    """The task rule as this reader applies it, against lm-eval's own regex filter and exact_match."""
    _tool("lm_eval")
    from lm_eval.api.metrics import exact_match_hf_evaluate
    from lm_eval.filters.extraction import RegexFilter, WhitespaceFilter
    from lm_eval.filters.transformation import LowercaseFilter

    from scaling.readers import TaskRule

    pattern = r"(?:answer is|####) (\-?[\$0-9\.\,]+)|(boxed\{\w+\})"
    metric = {"ignore_case": True, "ignore_punctuation": True, "regexes_to_ignore": [",", r"\$", r"\.$"]}
    rule = TaskRule((("regex", {"regex_pattern": pattern, "group_select": -1}), ("remove_whitespace", {}),
                     ("lowercase", {})), metric)
    texts = ["so the answer is 1,234.", "The answer is $5 and then #### 7", "nothing here", "x boxed{ABC} y",
             "answer is -3.50", "#### 12 ... answer is 12.", ""]
    refs = ["1234", "7", "0", "abc", "-3.50", "12", "1"]
    theirs = RegexFilter(regex_pattern=pattern, group_select=-1).apply([texts], None)[0]
    theirs = LowercaseFilter().apply(WhitespaceFilter().apply([theirs], None), None)[0]
    ours = [rule.extract(t) for t in texts]
    assert ours == [None if x == "[invalid]" else x for x in theirs]
    for t, ref, x in zip(texts, refs, theirs, strict=True):
        logged = exact_match_hf_evaluate([x], [ref], **metric)["exact_match"]
        assert rule("t", t, ref)[1] == (bool(logged) and x != "[invalid]")
