"""The ``arith`` task: multi-step integer arithmetic, evaluated left to right, with checkable steps.

A problem is a start value and ``d`` operations (``d`` = difficulty = number of steps), e.g.::

    Evaluate left to right: 12+7*3-5

whose reference solution, in the project's step format (steps separated by a blank line), is::

    Step 1: 12+7=19

    Step 2: 19*3=57

    Step 3: 57-5=52

    The answer is 52

Generation rules (all values exact integers): the start value is drawn from 2..40; each operation is
drawn uniformly among the feasible ones of ``+ b`` (b in 1..9), ``- b`` (b in 1..9, result >= 1) and
``* b`` (b in 2..3); every intermediate value stays in 1..MAX_VALUE (99). Everything is a function of
the seed (``numpy.random.default_rng``).

The prompt the bundled models are trained on is ``prompt(question) = question + "\\n"`` followed by the
solution and the end-of-text token (the "plain" template: question, newline, solution).

Step checking (:func:`step_labels`) follows Math-Shepherd's definition with an exact oracle instead of
rollouts: step ``k`` is good when its arithmetic ``a op b = c`` is right, ``op b`` is the question's
``k``-th operation, and ``c`` equals the true running value after ``k`` operations (so the reference
answer is still reachable by correct steps); the final "The answer is N" segment is good when ``N`` is the
reference answer.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

TASK = "arith"
PREFIX = "Evaluate left to right: "
ANSWER_PREFIX = "The answer is "
STEP_DELIMITER = "\n\n"
MAX_VALUE = 99
START_RANGE = (2, 40)
ADD_MAX = 9
MUL_RANGE = (2, 3)
LEVELS = (1, 2, 3, 4, 5)

_STEP_RE = re.compile(r"^Step (\d+): (\d+)([+\-*])(\d+)=(-?\d+)$")
_ANSWER_RE = re.compile(r"^The answer is (-?\d+)$")
_QUESTION_RE = re.compile(r"^" + re.escape(PREFIX) + r"(\d+)((?:[+\-*]\d+)+)$")


@dataclass(frozen=True)
class ArithProblem:
    """One generated problem: ``start`` then ``ops`` (a tuple of ``(op, operand)``) applied left to right."""

    start: int
    ops: tuple[tuple[str, int], ...]

    @property
    def difficulty(self) -> int:
        return len(self.ops)

    @property
    def question(self) -> str:
        return PREFIX + str(self.start) + "".join(f"{op}{b}" for op, b in self.ops)

    def values(self) -> list[int]:
        """Running values after 0, 1, ..., d operations."""
        vals = [self.start]
        for op, b in self.ops:
            vals.append(apply(vals[-1], op, b))
        return vals

    @property
    def answer(self) -> int:
        return self.values()[-1]

    def solution(self) -> str:
        """The reference step-by-step solution (no trailing newline, no end-of-text token)."""
        vals = self.values()
        steps = [f"Step {k + 1}: {vals[k]}{op}{b}={vals[k + 1]}" for k, (op, b) in enumerate(self.ops)]
        return STEP_DELIMITER.join(steps + [f"{ANSWER_PREFIX}{vals[-1]}"])


def apply(a: int, op: str, b: int) -> int:
    if op == "+":
        return a + b
    if op == "-":
        return a - b
    if op == "*":
        return a * b
    raise ValueError(f"unknown operation {op!r}; expected one of + - *")


def prompt(question: str) -> str:
    """The exact prompt the bundled models were trained on: the question, then a newline."""
    return question + "\n"


def parse_question(question: str) -> ArithProblem:
    """Inverse of :attr:`ArithProblem.question`; ValueError on text that is not an arith question."""
    m = _QUESTION_RE.match(question.strip())
    if not m:
        raise ValueError(f"not an arith question: {question!r}; expected {PREFIX!r} then e.g. '12+7*3'")
    ops = tuple((op, int(b)) for op, b in re.findall(r"([+\-*])(\d+)", m.group(2)))
    return ArithProblem(int(m.group(1)), ops)


def generate_problem(rng: np.random.Generator, difficulty: int) -> ArithProblem:
    """Draw one problem with ``difficulty`` operations (rules in the module docstring)."""
    if difficulty < 1:
        raise ValueError(f"difficulty must be >= 1, got {difficulty}")
    start = value = int(rng.integers(START_RANGE[0], START_RANGE[1] + 1))
    ops = []
    for _ in range(difficulty):
        feasible = []
        if value + 1 <= MAX_VALUE:
            feasible.append("+")
        if value >= 2:
            feasible.append("-")
        if value * MUL_RANGE[0] <= MAX_VALUE:
            feasible.append("*")
        op = feasible[int(rng.integers(len(feasible)))]
        if op == "+":
            b = int(rng.integers(1, min(ADD_MAX, MAX_VALUE - value) + 1))
        elif op == "-":
            b = int(rng.integers(1, min(ADD_MAX, value - 1) + 1))
        else:
            b = int(rng.integers(MUL_RANGE[0], min(MUL_RANGE[1], MAX_VALUE // value) + 1))
        ops.append((op, b))
        value = apply(value, op, b)
    return ArithProblem(start, tuple(ops))


def generate_problems(n: int, *, seed: int, levels: tuple[int, ...] = LEVELS) -> list[ArithProblem]:
    """``n`` problems, difficulty cycling through ``levels`` (balanced), deterministic in ``seed``."""
    rng = np.random.default_rng(seed)
    return [generate_problem(rng, levels[i % len(levels)]) for i in range(n)]


def split_test(n_per_level: int = 100, *, seed: int = 20260101) -> list[ArithProblem]:
    """The shipped test split: ``n_per_level`` distinct problems per level, deterministic in ``seed``."""
    rng = np.random.default_rng(seed)
    out: list[ArithProblem] = []
    seen: set[str] = set()
    for level in LEVELS:
        k = 0
        while k < n_per_level:
            p = generate_problem(rng, level)
            if p.question not in seen:
                seen.add(p.question)
                out.append(p)
                k += 1
    return out


def train_batches(seed: int, batch_size: int, exclude: set[str]):
    """Endless deterministic stream of training batches, skipping ``exclude`` questions.

    Each batch holds ``batch_size`` problems of one level (levels drawn uniformly per batch), so that the
    sequences of a batch have nearly equal length and little compute goes to padding.
    """
    rng = np.random.default_rng(seed)
    while True:
        level = int(rng.integers(LEVELS[0], LEVELS[-1] + 1))
        batch: list[ArithProblem] = []
        while len(batch) < batch_size:
            p = generate_problem(rng, level)
            if p.question not in exclude:
                batch.append(p)
        yield batch


def write_task(problems: list[ArithProblem], path: str | Path) -> Path:
    """Write the task file read by ``collect.tasks.load_task``: problem_id, question, answer, difficulty."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w") as f:
        for i, p in enumerate(problems):
            row = {"problem_id": f"arith-{i:04d}", "question": p.question, "answer": str(p.answer),
                   "difficulty": str(p.difficulty)}
            f.write(json.dumps(row) + "\n")
    return path


def extract_answer(solution: str) -> str | None:
    """The integer after the last "The answer is", or None."""
    m = re.findall(r"The answer is (-?\d+)", solution)
    return m[-1] if m else None


def split_steps(solution: str) -> list[str]:
    """Steps of a solution: paragraphs separated by a blank line, stripped, empty ones dropped."""
    return [s.strip() for s in solution.split(STEP_DELIMITER) if s.strip()]


def step_labels(question: str, steps: list[str]) -> list[bool]:
    """Math-Shepherd-style label of every step (True = good), computed exactly (see module docstring).

    >>> step_labels("Evaluate left to right: 2+3*4", ["Step 1: 2+3=5", "Step 2: 5*4=21", "The answer is 21"])
    [True, False, False]
    """
    prob = parse_question(question)
    vals = prob.values()
    labels = []
    for k, step in enumerate(steps):
        step = step.strip()
        m = _STEP_RE.match(step)
        if m:
            idx, a, op, b, c = int(m.group(1)), int(m.group(2)), m.group(3), int(m.group(4)), int(m.group(5))
            ok = (idx == k + 1 and k < prob.difficulty and (op, b) == prob.ops[k]
                  and apply(a, op, b) == c and c == vals[k + 1])
            labels.append(bool(ok))
            continue
        m = _ANSWER_RE.match(step)
        labels.append(bool(m and int(m.group(1)) == prob.answer))
    return labels


def digit_labels(question: str, steps: list[str]) -> list[list[tuple[int, bool]]]:
    """Dense companions of :func:`step_labels` for PRM training: for every step, one ``(offset, label)`` per
    character of the step's result (the number after ``=``, or the final answer), where ``offset`` is the
    character's index in the stripped step and ``label`` says whether everything up to and including that
    character is still consistent with the true solution (earlier steps good, this step's operation right,
    result so far a prefix of the true value). Unparseable steps get no entries.

    >>> digit_labels("Evaluate left to right: 2+3*4", ["Step 1: 2+3=5", "Step 2: 5*4=21"])
    [[(12, True)], [(12, True), (13, False)]]
    """
    prob = parse_question(question)
    vals = prob.values()
    out: list[list[tuple[int, bool]]] = []
    prev = True
    for k, (step, good) in enumerate(zip(steps, step_labels(question, steps), strict=True)):
        step = step.strip()
        m = _STEP_RE.match(step)
        if m:
            ok = (prev and int(m.group(1)) == k + 1 and k < prob.difficulty
                  and (m.group(3), int(m.group(4))) == prob.ops[k])
            truth, start, digits = str(vals[k + 1]) if k < prob.difficulty else "", m.start(5), m.group(5)
        else:
            m = _ANSWER_RE.match(step)
            ok, truth = prev, str(prob.answer)
            start, digits = (m.start(1), m.group(1)) if m else (0, "")
        out.append([(start + j, bool(ok and truth.startswith(digits[: j + 1]))) for j in range(len(digits))])
        prev = prev and good
    return out
