"""Readers of evaluation tools' files (scaling.readers): search-and-learn and Large Language Monkeys fixtures,
format detection, refusals, layering.

The search-and-learn and Large Language Monkeys files under tests/data/tools/ are NOT written by those tools
(both need vLLM and a GPU here unavailable): tests/data/tools/make_fixtures.py wrote them from the tools'
published schemas (their repositories' generation and scoring code, cited there) with real samples of the
bundled arith-neox-113k policy scored step by step by the bundled arith-verifier-1.9m, and wrote collect's own
table of the same samples to expected.parquet -- what the readers must give back.  The lm-evaluation-harness
and Inspect readers are tested on files the real tools write, in tests/test_readers_tools.py.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import scaling
from scaling.readers import detect, read_monkeys, read_search_and_learn, safetensors_params

ROOT = Path(__file__).resolve().parents[1]
TOOLS = ROOT / "tests" / "data" / "tools"
SAL = TOOLS / "search-and-learn" / "best_of_n_completions.jsonl"
MONKEYS = TOOLS / "monkeys"
TOKENIZER = ROOT / "data" / "models" / "arith-neox-113k"
RUN = {"task": "arith", "model": "arith-neox-113k", "params": 113408}


@pytest.fixture(scope="module")
def expected() -> pd.DataFrame:
    return pd.read_parquet(TOOLS / "expected.parquet").sort_values(["problem_id", "sample_id"], ignore_index=True)


@pytest.fixture(scope="module")
def grade():
    return pytest.importorskip("collect.grading").grade


def _sorted(df: pd.DataFrame) -> pd.DataFrame:
    return df.sort_values(["problem_id", "sample_id"], ignore_index=True)


def test_search_and_learn_gives_back_collects_table(expected, grade):
    df = _sorted(read_search_and_learn(SAL, **RUN, grade=grade, reward_model="arith-verifier-1.9m",
                                       reward_params=1889280, temperature=1.0, difficulty="level"))
    assert len(df) == len(expected) == 64
    for col in ("problem_id", "sample_id", "answer", "correct", "gen_tokens", "difficulty", "reward", "temperature"):
        assert df[col].tolist() == expected[col].tolist(), col
    assert all(np.array_equal(a, b) for a, b in zip(df.step_rewards, expected.step_rewards, strict=True))
    assert (df.method == "sample").all() and set(df.step_agg) == {"last"}
    assert set(df.grader) == {"collect.grading:grade"} and set(df.token_count) == {"search-and-learn completion_tokens"}
    assert df.prompt_tokens.isna().all()          # the chat-templated prompt is not in the file
    ev = scaling.evaluate(df, n_boot=10, extrapolate=())
    assert {"weighted_majority", "best_of_n", "majority", "pass_at_k"} <= set(ev.curves.strategy)


@pytest.mark.parametrize("agg", ["min", "prod", "mean"])
def test_search_and_learn_step_aggregation_is_named(agg, grade):
    df = read_search_and_learn(SAL, **RUN, grade=grade, step_agg=agg)
    fn = {"min": np.min, "prod": np.prod, "mean": np.mean}[agg]
    assert np.allclose(df.reward, [fn(s) for s in df.step_rewards], rtol=0, atol=1e-15)
    assert set(df.step_agg) == {agg}


def test_search_and_learn_refusals(tmp_path, grade):
    with pytest.raises(scaling.SchemaError, match="do not record task, model, params; pass task=, model=, params="):
        read_search_and_learn(SAL, grade=grade)
    with pytest.raises(scaling.SchemaError, match="no per-completion answer or correctness; pass grade="):
        read_search_and_learn(SAL, **RUN)
    beam = tmp_path / "beam_search_completions.jsonl"
    shutil.copy(SAL, beam)
    with pytest.raises(scaling.SchemaError, match="pruned branches.*run_gen_tokens"):
        read_search_and_learn(beam, **RUN, grade=grade)
    # DVTS-style -1 token counts: refused without a tokenizer, counted with one
    lines = [json.loads(x) for x in SAL.read_text().splitlines()]
    lines[2]["completion_tokens"] = -1
    bad = tmp_path / "best_of_n_completions.jsonl"
    bad.write_text("".join(json.dumps(x) + "\n" for x in lines))
    with pytest.raises(scaling.SchemaError, match=r"best_of_n_completions.jsonl: line 3: completion_tokens missing "
                                                  r"or -1; pass tokenizer="):
        read_search_and_learn(bad, **RUN, grade=grade)
    df = read_search_and_learn(bad, **RUN, grade=grade, tokenizer=TOKENIZER)
    counted = df[df.problem_id == lines[2]["unique_id"]]
    assert (counted.gen_tokens.to_numpy() == [len(c) for c in _char_tokens(lines[2]["completions"])]).all()
    assert set(df.token_count) == {f"search-and-learn completion_tokens; tokenizer {TOKENIZER} where missing"}
    # a record without the problem id field names the line and the field
    del lines[4]["unique_id"]
    bad.write_text("".join(json.dumps(x) + "\n" for x in lines))
    with pytest.raises(scaling.SchemaError, match=r"line 5: field 'unique_id': missing .* problem_id="):
        read_search_and_learn(bad, **RUN, grade=grade, tokenizer=TOKENIZER)


def _char_tokens(texts):
    """The bundled tokenizer's pieces, by hand: one per character except its three multi-character tokens
    (the text as generated ends before the end-of-text token)."""
    out = []
    for t in texts:
        pieces, i = [], 0
        while i < len(t):
            for special in ("The answer is ", "Compute: ", "\n\n"):
                if t.startswith(special, i):
                    pieces.append(special)
                    i += len(special)
                    break
            else:
                pieces.append(t[i])
                i += 1
        out.append(pieces)
    return out


def test_monkeys_gives_back_collects_table(expected, grade):
    df = _sorted(read_monkeys(MONKEYS, **RUN, grade=grade, tokenizer=TOKENIZER, temperature=1.0))
    assert len(df) == 64
    for col in ("problem_id", "sample_id", "answer", "correct", "prompt_tokens", "temperature"):
        assert df[col].tolist() == expected[col].tolist(), col
    # collect counts the end-of-text token it generated; the tool's texts end before it
    stopped = (expected.finish_reason == "stop").to_numpy()
    assert (df.gen_tokens.to_numpy() == expected.gen_tokens.to_numpy() - stopped).all()
    assert set(df.grader) == {"answers: collect.grading:grade; correct: is_corrects"}
    graded = _sorted(read_monkeys(MONKEYS, **RUN, grade=grade, tokenizer=TOKENIZER, correct="grader"))
    assert graded.correct.tolist() == df.correct.tolist()         # the tool's verdicts and collect's agree here


def test_monkeys_refusals(tmp_path, grade):
    with pytest.raises(scaling.SchemaError, match="hold no token counts; pass tokenizer="):
        read_monkeys(MONKEYS, **RUN, grade=grade)
    with pytest.raises(scaling.SchemaError, match="keep no extracted answers"):
        read_monkeys(MONKEYS, **RUN, tokenizer=TOKENIZER)
    import yaml

    folder = tmp_path / "run"
    shutil.copytree(MONKEYS, folder)
    rec = yaml.safe_load((folder / "arith-0300.yaml").read_text())
    rec["samples"][3] = "I cannot tell"                # no answer at all, yet the tool says correct
    rec["is_corrects"][3] = True
    (folder / "arith-0300.yaml").write_text(yaml.dump(rec, sort_keys=True))
    with pytest.raises(scaling.SchemaError, match=r"arith-0300.yaml: record sample 3: field 'is_corrects': the tool "
                                                  r"marks it correct but the grader .* finds no answer"):
        read_monkeys(folder, **RUN, grade=grade, tokenizer=TOKENIZER)
    df = read_monkeys(folder, **RUN, grade=grade, tokenizer=TOKENIZER, correct="grader")
    row = df[(df.problem_id == "arith-0300") & (df.sample_id == 3)].iloc[0]
    assert row.answer is None and not row.correct


def test_read_samples_recognises_tool_files_beside_tables(tmp_path, grade, expected):
    d = tmp_path / "mine"
    shutil.copytree(TOOLS / "search-and-learn", d / "sal")
    table = expected.drop(columns=["finish_reason", "num_tokens"]).assign(model="other", params=1e5)
    scaling.write_samples(table, d / "tables" / "other.parquet")
    (d / "notes.yaml").write_text("just: notes\n")               # not a tool's file: left out
    (d / "config.json").write_text('{"lr": 1}')
    assert detect(d / "sal" / SAL.name) == "search-and-learn" and detect(MONKEYS / "arith-0000.yaml") == "monkeys"
    assert detect(d / "notes.yaml") is None and detect(d / "config.json") is None
    with pytest.raises(scaling.SchemaError, match="do not record task, model, params"):
        scaling.read_samples(d)
    df = scaling.read_samples(d, **RUN, grade=grade)
    assert len(df) == 128 and set(df.model) == {"other", "arith-neox-113k"}
    assert df.loc[df.model == "other", "grader"].isna().all()
    assert len(scaling.read_samples(d, format="table")) == 64
    with pytest.raises(scaling.SchemaError, match=r"options \['params'\] apply to evaluation tools' files"):
        scaling.read_samples(d / "tables", params=1)
    with pytest.raises(TypeError, match="unexpected option"):
        scaling.read_samples(d, tokeniser=TOKENIZER)
    # the same run read twice (the two fixtures hold the same samples) is one solution twice: refused
    shutil.copytree(MONKEYS, d / "monkeys")
    with pytest.raises(scaling.SchemaError, match="duplicate key"):
        scaling.read_samples(d, **RUN, grade=grade, tokenizer=TOKENIZER)
    only = scaling.read_samples(d, format="monkeys", **RUN, grade=grade, tokenizer=TOKENIZER)
    assert len(only) == 64 and set(only.problem_id) == set(expected.problem_id)


def test_safetensors_params_counts_the_checkpoint():
    info = json.loads((TOKENIZER / "training.json").read_text())
    assert safetensors_params(TOKENIZER) == info["params"] == 113408


def test_scaling_never_imports_collect_torch_or_vllm():
    code = ("import sys, scaling, scaling.readers, scaling.fit; "
            "bad = sorted(m for m in sys.modules if m.split('.')[0] in ('collect', 'torch', 'vllm', 'transformers')); "
            "assert not bad, bad")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=600, cwd=ROOT)
    assert r.returncode == 0, r.stderr


def test_lm_eval_temperature_follows_the_generation_settings(tmp_path):
    from scaling.readers.lm_eval import _temperature

    f, rec = tmp_path / "samples.jsonl", "line 1"
    assert _temperature({"do_sample": True, "temperature": 0.7}, "hf", None, f, rec) == 0.7
    assert _temperature({"do_sample": False, "temperature": 0.7}, "hf", None, f, rec) == 0.0
    assert _temperature({"until": ["\n"]}, "vllm", None, f, rec) == 0.0          # the harness's default: greedy
    assert _temperature({"temperature": 0.7}, "vllm", None, f, rec) == 0.7
    (tmp_path / "generation_config.json").write_text('{"do_sample": true}')
    assert _temperature({"temperature": 0.7}, "hf", tmp_path, f, rec) == 0.7     # the model's config samples
    (tmp_path / "generation_config.json").write_text("{}")
    assert _temperature({"temperature": 0.7}, "hf", tmp_path, f, rec) == 0.0     # transformers' default: greedy
    with pytest.raises(scaling.SchemaError, match="record line 1: field 'arguments': .* pass temperature="):
        _temperature({"temperature": 0.7}, "hf", None, f, rec)
