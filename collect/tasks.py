"""Benchmark tasks: load problems with a reference final answer from JSONL files.

A task file is JSON Lines, one problem per line. Recognised fields (first match wins):

* question: ``question`` or ``problem``
* reference answer: ``answer`` (GSM8K style ``"... #### 18"`` keeps only the part after the last
  ``####``), ``reference``, ``final_answer`` or ``gt``
* identifier (optional): ``problem_id``, ``unique_id``, ``id`` or ``idx``; default: the 0-based record index
* difficulty (optional): ``difficulty`` or ``level`` (``"Level 3"`` and ``3`` both become ``"3"``)

The reference is stored in canonical form (:func:`collect.grading.canonical_answer`), so it compares and
votes like a graded answer.

Example::

    >>> from collect.tasks import load_task
    >>> problems = load_task("gsm8k", limit=2)
    >>> problems[0].reference
    '18'
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

__all__ = ["Problem", "load_task", "task_path", "available_tasks", "TASKS_DIR"]

#: Folder holding the shipped task files (``data/tasks`` at the repository root).
TASKS_DIR = Path(__file__).resolve().parent.parent / "data" / "tasks"

# built-in task name -> file name inside TASKS_DIR (other names map to "<name>.jsonl")
_BUILTIN_FILES = {"gsm8k": "gsm8k_test.jsonl", "math500": "math500.jsonl"}
_FILE_TO_NAME = {v: k for k, v in _BUILTIN_FILES.items()}

_QUESTION_KEYS = ("question", "problem")
_ANSWER_KEYS = ("answer", "reference", "final_answer", "gt")
_ID_KEYS = ("problem_id", "unique_id", "id", "idx")
_DIFFICULTY_KEYS = ("difficulty", "level")


@dataclass(frozen=True)
class Problem:
    """One benchmark problem.

    Attributes:
        task: task name, e.g. ``"gsm8k"``, ``"math500"``, ``"arith"``.
        problem_id: identifier, unique within the task.
        question: problem statement shown to the model.
        reference: reference final answer in canonical form (see :func:`collect.grading.canonical_answer`).
        difficulty: difficulty label such as the MATH level (``"3"``) or a number of steps, or None.
    """

    task: str
    problem_id: str
    question: str
    reference: str
    difficulty: str | None = None


def available_tasks() -> list[str]:
    """Names accepted by :func:`load_task` without a path: the built-ins and every ``data/tasks/*.jsonl``."""
    names = set(_BUILTIN_FILES)
    if TASKS_DIR.is_dir():
        for p in TASKS_DIR.glob("*.jsonl"):
            names.add(_FILE_TO_NAME.get(p.name, p.stem))
    return sorted(names)


def task_path(name_or_path: str | Path) -> tuple[str, Path]:
    """Resolve a task name or a JSONL path to ``(task_name, path)``.

    Raises ValueError for an unknown name, FileNotFoundError for a missing path.
    """
    s = str(name_or_path)
    if s in _BUILTIN_FILES:
        return s, TASKS_DIR / _BUILTIN_FILES[s]
    looks_like_path = s.endswith((".jsonl", ".json")) or "/" in s or "\\" in s
    if not looks_like_path:
        p = TASKS_DIR / f"{s}.jsonl"
        if p.is_file():
            return s, p
        raise ValueError(f"unknown task {s!r}: expected one of {available_tasks()} or a path to a JSONL file")
    p = Path(s)
    if not p.is_file():
        raise FileNotFoundError(f"task file {p} does not exist")
    return _FILE_TO_NAME.get(p.name, p.stem), p


def _first(record: dict, keys: tuple[str, ...]):
    for k in keys:
        if k in record and record[k] is not None and str(record[k]).strip() != "":
            return record[k]
    return None


def _reference_text(raw) -> str:
    text = str(raw)
    if "####" in text:  # GSM8K: worked solution, then "#### <final answer>"
        text = text.rsplit("####", 1)[1]
    return text.strip()


def _difficulty(raw) -> str | None:
    if raw is None:
        return None
    if isinstance(raw, float) and raw.is_integer():
        raw = int(raw)
    text = str(raw).strip()
    if text.lower().startswith("level"):
        text = text[5:].strip()
    return text or None


def load_task(name_or_path: str | Path, *, limit: int | None = None) -> list[Problem]:
    """Load the problems of a task.

    Args:
        name_or_path: ``"gsm8k"`` (``data/tasks/gsm8k_test.jsonl``), ``"math500"``, any ``<name>`` with a
            ``data/tasks/<name>.jsonl``, or a path to a JSONL file (the task is then named after the file).
        limit: keep only the first ``limit`` problems.

    Returns:
        Problems in file order, with canonical references.

    Raises:
        ValueError: unknown task name; a line that is not a JSON object; a record without a question or a
            reference answer; a duplicated problem id (the message names the file and line).
        FileNotFoundError: the path does not exist.
    """
    from collect.grading import canonical_answer  # local import: grading pulls in sympy lazily

    if limit is not None and limit < 0:
        raise ValueError(f"limit must be >= 0, got {limit}")
    task, path = task_path(name_or_path)
    problems: list[Problem] = []
    seen: dict[str, int] = {}
    with open(path, encoding="utf-8") as fh:
        for lineno, line in enumerate(fh, start=1):
            if limit is not None and len(problems) >= limit:
                break
            if not line.strip():
                continue
            where = f"{path}:{lineno}"
            try:
                record = json.loads(line)
            except json.JSONDecodeError as e:
                raise ValueError(f"{where}: not valid JSON ({e.msg})") from None
            if not isinstance(record, dict):
                raise ValueError(f"{where}: expected a JSON object, got {type(record).__name__}")
            question = _first(record, _QUESTION_KEYS)
            if question is None:
                raise ValueError(f"{where}: missing question (expected one of the fields {list(_QUESTION_KEYS)})")
            raw_answer = _first(record, _ANSWER_KEYS)
            if raw_answer is None:
                raise ValueError(
                    f"{where}: missing reference answer (expected one of the fields {list(_ANSWER_KEYS)})"
                )
            ref_text = _reference_text(raw_answer)
            reference = canonical_answer(task, ref_text) if ref_text else None
            if not reference:
                raise ValueError(f"{where}: empty reference answer {raw_answer!r}")
            pid = _first(record, _ID_KEYS)
            problem_id = str(pid) if pid is not None else str(len(problems))
            if problem_id in seen:
                raise ValueError(f"{where}: duplicate problem id {problem_id!r} (first on line {seen[problem_id]})")
            seen[problem_id] = lineno
            problems.append(
                Problem(
                    task=task,
                    problem_id=problem_id,
                    question=str(question),
                    reference=reference,
                    difficulty=_difficulty(_first(record, _DIFFICULTY_KEYS)),
                )
            )
    return problems
