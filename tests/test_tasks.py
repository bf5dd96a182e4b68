"""Tests for collect.tasks (loading benchmark files) and collect.prompts (step-wise prompt templates)."""

from __future__ import annotations

import json
import re

import pytest

from collect import tasks
from collect.grading import canonical_answer, grade
from collect.prompts import (
    EXAMPLES,
    STEP_DELIMITER,
    STOP_SEQUENCES,
    build_prompt,
    format_solution,
    has_final_answer,
    join_steps,
    split_steps,
)
from collect.tasks import Problem, load_task


def _write(path, rows):
    path.write_text("".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in rows))
    return path


# ------------------------------------------------------------------------------------------ built-ins


def test_gsm8k_loads_all_problems_with_numeric_references():
    problems = load_task("gsm8k")
    assert len(problems) == 1319
    assert problems[0].task == "gsm8k"
    assert problems[0].reference == "18"  # "#### 18" in the worked solution
    assert problems[0].question.startswith("Janet")
    assert len({p.problem_id for p in problems}) == 1319
    assert all(re.fullmatch(r"-?\d+(\.\d+)?", p.reference) for p in problems)
    assert all(p.difficulty is None for p in problems)
    # GSM8K references with thousands separators are canonical plain numbers
    raw = [json.loads(x)["answer"].rsplit("####", 1)[1].strip() for x in open(tasks.TASKS_DIR / "gsm8k_test.jsonl")]
    assert any("," in r for r in raw)
    assert [p.reference for p in problems] == [r.replace(",", "") for r in raw]


@pytest.fixture(scope="module")
def math500():
    return load_task("math500")


def test_math500_ids_levels_and_canonical_references(math500):
    assert len(math500) == 500
    p = math500[0]
    assert p.task == "math500"
    assert p.problem_id == "test/precalculus/807.json"
    assert p.difficulty == "2"
    assert {q.difficulty for q in math500} == {"1", "2", "3", "4", "5"}
    rows = [json.loads(x) for x in open(tasks.TASKS_DIR / "math500.jsonl")]
    for q, row in zip(math500, rows, strict=True):
        assert q.reference == canonical_answer("math500", q.reference)  # canonical and idempotent
        assert grade("math500", f"\\boxed{{{row['answer']}}}", q.reference).correct, row["answer"]


def test_limit_and_available_tasks():
    assert len(load_task("gsm8k", limit=7)) == 7
    assert load_task("gsm8k", limit=0) == []
    assert {"gsm8k", "math500"} <= set(tasks.available_tasks())
    with pytest.raises(ValueError, match="limit"):
        load_task("gsm8k", limit=-1)


# ------------------------------------------------------------------------------------- any JSONL file


def test_arith_shape_and_named_lookup(tmp_path, monkeypatch):
    rows = [
        {"problem_id": "arith-0000", "question": "Evaluate left to right: 2+3*4", "answer": "20", "difficulty": "2"},
        {"problem_id": "arith-0001", "question": "Evaluate left to right: 7-9", "answer": "-2", "difficulty": 1},
    ]
    _write(tmp_path / "arith.jsonl", rows)
    monkeypatch.setattr(tasks, "TASKS_DIR", tmp_path)
    problems = load_task("arith")
    assert problems == [
        Problem("arith", "arith-0000", "Evaluate left to right: 2+3*4", "20", "2"),
        Problem("arith", "arith-0001", "Evaluate left to right: 7-9", "-2", "1"),
    ]
    assert "arith" in tasks.available_tasks()
    assert grade(problems[0].task, "Step 1: 2+3=5\n\nStep 2: 5*4=20\n\nThe answer is 20", problems[0].reference).correct


def test_generic_file_fields(tmp_path):
    path = _write(tmp_path / "olymp.jsonl", [
        {"problem": "What is 1/2 + 1/4?", "answer": "0.75", "unique_id": "a", "level": "Level 3"},
        {"question": "Q2", "reference": "\\dfrac{1}{2}", "id": 7},
        "",
        {"question": "Q3", "gt": "5", "level": 4.0},
    ])
    problems = load_task(str(path))
    assert [p.task for p in problems] == ["olymp"] * 3
    assert [p.problem_id for p in problems] == ["a", "7", "2"]
    assert [p.difficulty for p in problems] == ["3", None, "4"]
    assert [p.reference for p in problems] == ["\\frac{3}{4}", "\\frac{1}{2}", "5"]
    assert problems[0].question == "What is 1/2 + 1/4?"


@pytest.mark.parametrize(
    "rows, message",
    [
        ([{"question": "q", "answer": "1"}, {"answer": "2"}], r"bad\.jsonl:2: missing question"),
        ([{"question": "q"}], r"bad\.jsonl:1: missing reference answer"),
        ([{"question": "q", "answer": "   "}], r"bad\.jsonl:1: missing reference answer"),
        (["{not json"], r"bad\.jsonl:1: not valid JSON"),
        (["[1, 2]"], r"bad\.jsonl:1: expected a JSON object"),
        ([{"question": "q", "answer": "1", "id": "x"}, {"question": "r", "answer": "2", "id": "x"}],
         r"bad\.jsonl:2: duplicate problem id 'x' \(first on line 1\)"),
        ([{"question": "q", "answer": "####"}], r"bad\.jsonl:1: empty reference"),
    ],
)
def test_bad_files_name_file_and_line(tmp_path, rows, message):
    path = _write(tmp_path / "bad.jsonl", rows)
    with pytest.raises(ValueError, match=message):
        load_task(str(path))


def test_unknown_task_and_missing_file(tmp_path):
    with pytest.raises(ValueError, match="unknown task 'nope'.*gsm8k"):
        load_task("nope")
    with pytest.raises(FileNotFoundError, match="does not exist"):
        load_task(str(tmp_path / "missing.jsonl"))


# ------------------------------------------------------------------------------------------------ prompts


def test_split_and_join_steps():
    text = "Step 1: a = 2.\n\nStep 2: b = 3.\n\n\n\nStep 3: a + b = 5. The answer is 5.\n"
    steps = split_steps(text)
    assert steps == ["Step 1: a = 2.", "Step 2: b = 3.", "Step 3: a + b = 5. The answer is 5."]
    assert split_steps(join_steps(steps)) == steps
    assert join_steps(steps) == STEP_DELIMITER.join(steps)
    assert split_steps("Step 1: x\n  \nStep 2: y") == ["Step 1: x", "Step 2: y"]
    assert split_steps("") == []
    assert split_steps("  \n\n ") == []
    with pytest.raises(TypeError):
        split_steps(None)  # type: ignore[arg-type]


def test_format_solution_and_final_answer():
    sol = format_solution(["2 + 3 = 5.", "5 * 4 = 20."], "20")
    assert sol == "Step 1: 2 + 3 = 5.\n\nStep 2: 5 * 4 = 20. The answer is 20."
    assert has_final_answer(sol) and not has_final_answer(split_steps(sol)[0])
    assert has_final_answer("so \\boxed{3}") and has_final_answer("#### 4")
    with pytest.raises(ValueError):
        format_solution([])


@pytest.mark.parametrize("style, task", [("numeric", "gsm8k"), ("math", "math500")])
def test_worked_examples_grade_correct(style, task):
    for ex in EXAMPLES[style]:
        sol = format_solution(ex.steps, ex.answer)
        assert grade(task, sol, ex.answer).correct, sol
        assert len(split_steps(sol)) == len(ex.steps)


def test_build_prompt_step_template():
    p = Problem("gsm8k", "0", "Ann has 3 apples and buys 4 more. How many apples does she have?", "7")
    zero = build_prompt(p)
    assert zero.endswith("Question: Ann has 3 apples and buys 4 more. How many apples does she have?\nAnswer:\n")
    assert "Step k:" in zero and "Question:" in zero
    assert zero.count("Question:") == 1
    two = build_prompt(p, few_shot=2)
    assert two.count("Question:") == 3
    assert EXAMPLES["numeric"][0].question in two and EXAMPLES["numeric"][1].question in two
    assert "Step 1: She sells 48 * 3/4 = 36 muffins" in two
    assert "The answer is 7." in two and "\n\nStep 2: " in two
    # the examples are separated so that the model's next "Question:" is caught by the stop strings
    first_example = two.split("Question:")[1]
    assert any(s in "Question:" + first_example + "Question:" for s in STOP_SEQUENCES)
    # math tasks get math examples
    m = build_prompt(Problem("math500", "x", "Compute $1+1$.", "2"), few_shot=4)
    assert all(ex.question in m for ex in EXAMPLES["math"])
    assert not any(ex.question in m for ex in EXAMPLES["numeric"])
    # override of the example style, and a bare question string
    assert EXAMPLES["numeric"][0].question in build_prompt(p.question, few_shot=1, examples="numeric")


def test_build_prompt_plain_template_and_errors():
    p = Problem("gsm8k", "0", "What is 2 + 2?", "4")
    plain = build_prompt(p, few_shot=1, template="plain")
    assert "Step 1:" not in plain
    assert "She sells 48 * 3/4 = 36 muffins in the morning. That leaves" in plain
    assert plain.endswith("Question: What is 2 + 2?\nAnswer:\n")
    with pytest.raises(ValueError, match="few_shot must be an integer from 0 to 4"):
        build_prompt(p, few_shot=5)
    with pytest.raises(ValueError, match="few_shot"):
        build_prompt(p, few_shot=-1)
    with pytest.raises(ValueError, match="unknown template"):
        build_prompt(p, template="chat")
    with pytest.raises(ValueError, match="example style"):
        build_prompt(p, examples="latin")
    with pytest.raises(TypeError):
        build_prompt(42)  # type: ignore[arg-type]
