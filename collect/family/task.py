"""The ``arith`` task: add and subtract single-digit terms to a start value, in any order, one step at a time.

A problem is a start value and ``d`` signed single-digit terms (``d`` = difficulty = number of steps,
1..10), e.g.::

    Compute: 37+4-8+5

Any order of the terms is a valid solution path: every step adds one not-yet-used term to the running
total (which starts at the start value). Two of the six valid reference solutions (steps separated by a
blank line)::

    37+4=41             37-8=29

    41-8=33             29+5=34

    33+5=38             34+4=38

    The answer is 38    The answer is 38

Because the paths meet different intermediate totals, a model's slips (a wrong carry, a reused or skipped
term) depend on the path it takes: its mistakes scatter over many wrong answers while every correct path
agrees, which is what makes voting pay (the effect the paper studies). Training solutions follow a
uniformly random path (a random order of the terms), so the policies learn all of them.

Generation rules (exact integers, a function of the seed only, ``numpy.random.default_rng``): the start
is drawn from 10..99; each term has a magnitude in 1..9 and is negative with probability 1/2 unless that
could take a running total below 1 or above 199 along some order (then it takes the other sign), so every
running total of every path stays in 1..199.

The prompt the bundled models are trained on is ``prompt(question) = question + "\\n"`` followed by the
solution and the end-of-text token.

Step checking (:func:`step_labels`) follows Math-Shepherd's definition with an exact oracle instead of
rollouts: a step ``a±b=c`` is good when every earlier step is good, ``a`` is the running total, ``±b`` a
not-yet-used term of the question and ``c`` the exact result; the final "The answer is N" segment is good
when ``N`` is the reference answer.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import numpy as np

TASK = "arith"
PREFIX = "Compute: "
ANSWER_PREFIX = "The answer is "
STEP_DELIMITER = "\n\n"
START_RANGE = (10, 99)
TERM_MAX = 9
MAX_TOTAL = 199
LEVELS = tuple(range(1, 11))

_STEP_RE = re.compile(r"^(-?\d+)([+-])(\d+)=(-?\d+)$")
_ANSWER_RE = re.compile(r"^The answer is (-?\d+)$")
_QUESTION_RE = re.compile(r"^" + re.escape(PREFIX) + r"(\d+)((?:[+-]\d+)+)$")


@dataclass(frozen=True)
class ArithProblem:
    """One generated problem: the start value ``terms[0]`` and the signed terms ``terms[1:]``; the answer
    is their sum."""

    terms: tuple[int, ...]

    @property
    def difficulty(self) -> int:
        return len(self.terms) - 1

    @property
    def question(self) -> str:
        return PREFIX + str(self.terms[0]) + "".join(f"{t:+d}" for t in self.terms[1:])

    @property
    def answer(self) -> int:
        return sum(self.terms)

    def solution(self, order: list[int] | None = None) -> str:
        """A reference solution (no trailing newline, no end-of-text token) adding the terms in ``order``
        (a permutation of the term indices 1..d; default: left to right)."""
        order = list(range(1, len(self.terms))) if order is None else [int(i) for i in order]
        if sorted(order) != list(range(1, len(self.terms))):
            raise ValueError(f"order {order} is not a permutation of 1..{len(self.terms) - 1}")
        total = self.terms[0]
        steps = []
        for i in order:
            t = self.terms[i]
            steps.append(f"{total}{t:+d}={total + t}")
            total += t
        return STEP_DELIMITER.join(steps + [f"{ANSWER_PREFIX}{total}"])

    def random_solution(self, rng: np.random.Generator) -> str:
        """A reference solution along a uniformly random path (random order of the terms)."""
        return self.solution(list(1 + rng.permutation(self.difficulty)))


def path_nll(problem: ArithProblem, solution: str) -> float:
    """-log P(the order of terms taken by ``solution``) under the uniformly random path of the training
    data: at each step, a term of value v is chosen with probability (copies of v left) / (terms left).
    Summed over a solution's tokens this is the part of a perfect model's loss that no model can remove
    (the entropy floor that :mod:`collect.family.train` subtracts before judging a plateau).

    >>> round(path_nll(ArithProblem((10, 1, 2, 2)), "10+2=12\\n\\n12+1=13\\n\\n13+2=15\\n\\nThe answer is 15"), 4)
    1.0986
    """
    pool = Counter(problem.terms[1:])
    out = 0.0
    for step in split_steps(solution):
        m = _STEP_RE.match(step)
        if not m:
            continue
        b = int(m.group(3)) * (1 if m.group(2) == "+" else -1)
        if pool[b] <= 0:
            raise ValueError(f"{solution!r}: term {b:+d} is not available in {problem.question!r}")
        out += float(np.log(sum(pool.values()) / pool[b]))
        pool[b] -= 1
    return out


def prompt(question: str) -> str:
    """The exact prompt the bundled models were trained on: the question, then a newline."""
    return question + "\n"


def parse_question(question: str) -> ArithProblem:
    """Inverse of :attr:`ArithProblem.question`; ValueError on text that is not an arith question."""
    m = _QUESTION_RE.match(question.strip())
    if not m:
        raise ValueError(f"not an arith question: {question!r}; expected {PREFIX!r} then e.g. '37+4-8'")
    rest = tuple(int(s) for s in re.findall(r"[+-]\d+", m.group(2)))
    return ArithProblem((int(m.group(1)),) + rest)


def generate_problem(rng: np.random.Generator, difficulty: int) -> ArithProblem:
    """Draw one problem with ``difficulty`` steps (``difficulty + 1`` terms; rules in the module docstring)."""
    if difficulty < 1:
        raise ValueError(f"difficulty must be >= 1, got {difficulty}")
    start = int(rng.integers(START_RANGE[0], START_RANGE[1] + 1))
    low = high = start            # lowest and highest running total over all orders of the terms so far
    terms = [start]
    for m, neg in zip(rng.integers(1, TERM_MAX + 1, size=difficulty), rng.random(difficulty) < 0.5, strict=True):
        m = int(m)
        if neg and low - m < 1 or not neg and high + m > MAX_TOTAL:
            neg = not neg
        terms.append(-m if neg else m)
        low, high = (low - m, high) if neg else (low, high + m)
    return ArithProblem(tuple(terms))


def generate_problems(n: int, *, seed: int, levels: tuple[int, ...] = LEVELS) -> list[ArithProblem]:
    """``n`` problems, difficulty cycling through ``levels`` (balanced), deterministic in ``seed``."""
    rng = np.random.default_rng(seed)
    return [generate_problem(rng, levels[i % len(levels)]) for i in range(n)]


def split_test(n_per_level: int = 50, *, seed: int = 20261201) -> list[ArithProblem]:
    """The shipped test split: ``n_per_level`` distinct problems per level 1..10, deterministic in ``seed``."""
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
    """Endless deterministic stream of training batches of ``(problem, solution)`` pairs, skipping
    ``exclude`` questions; every solution follows a uniformly random path.

    Each batch holds ``batch_size`` problems of one level (levels drawn uniformly per batch), so that the
    sequences of a batch have nearly equal length and little compute goes to padding.
    """
    rng = np.random.default_rng(seed)
    while True:
        level = int(rng.integers(LEVELS[0], LEVELS[-1] + 1))
        batch: list[tuple[ArithProblem, str]] = []
        while len(batch) < batch_size:
            p = generate_problem(rng, level)
            if p.question not in exclude:
                batch.append((p, p.random_solution(rng)))
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


def _check_steps(question: str, steps: list[str]) -> list[tuple[bool, int | None]]:
    """For every step: (operands available and earlier steps good, exact result if it is a step line)."""
    prob = parse_question(question)
    pool = Counter(prob.terms[1:])
    total = prob.terms[0]
    prev = True
    out: list[tuple[bool, int | None]] = []
    for k, step in enumerate(steps):
        m = _STEP_RE.match(step.strip())
        if not m:
            out.append((prev, None))
            prev = False
            continue
        a, b = int(m.group(1)), int(m.group(3)) * (1 if m.group(2) == "+" else -1)
        ok = prev and k < prob.difficulty and a == total and pool[b] > 0
        if ok:
            pool[b] -= 1
        out.append((ok, a + b))
        total = int(m.group(4))
        prev = ok and total == a + b
    return out


def step_labels(question: str, steps: list[str]) -> list[bool]:
    """Math-Shepherd-style label of every step (True = good), computed exactly (see module docstring).

    >>> step_labels("Compute: 12+3-4", ["12-4=8", "8+3=11", "The answer is 11"])
    [True, True, True]
    >>> step_labels("Compute: 12+3-4", ["12+3=15", "15-4=12", "The answer is 12"])
    [True, False, False]
    >>> step_labels("Compute: 12+3-4", ["12+3=15", "15+3=18", "The answer is 18"])
    [True, False, False]
    """
    answer = parse_question(question).answer
    labels = []
    for step, (ok, exact) in zip(steps, _check_steps(question, steps), strict=True):
        m = _STEP_RE.match(step.strip())
        if m:
            labels.append(bool(ok and int(m.group(4)) == exact))
            continue
        m = _ANSWER_RE.match(step.strip())
        labels.append(bool(m and int(m.group(1)) == answer))
    return labels


def digit_labels(question: str, steps: list[str]) -> list[list[tuple[int, bool]]]:
    """Dense companions of :func:`step_labels` for PRM training: for every step, one ``(offset, label)`` per
    character of the step's result (the number after ``=``, or the final answer), where ``offset`` is the
    character's index in the stripped step and ``label`` says whether everything up to and including that
    character is still consistent with a correct solution (earlier steps good, operands available, result
    so far a prefix of the exact value). Unparseable steps get no entries.

    >>> digit_labels("Compute: 12+3-4", ["12+3=15", "15-4=12"])
    [[(5, True), (6, True)], [(5, True), (6, False)]]
    """
    answer = parse_question(question).answer
    out: list[list[tuple[int, bool]]] = []
    for step, (ok, exact) in zip(steps, _check_steps(question, steps), strict=True):
        step = step.strip()
        m = _STEP_RE.match(step)
        if m:
            truth, start, digits = str(exact), m.start(4), m.group(4)
        else:
            m = _ANSWER_RE.match(step)
            truth = str(answer)
            start, digits = (m.start(1), m.group(1)) if m else (0, "")
        out.append([(start + j, bool(ok and truth.startswith(digits[: j + 1]))) for j in range(len(digits))])
    return out
