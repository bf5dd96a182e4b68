"""Answer extraction, canonical answers and grading against a reference.

Two grading styles, picked by task name (:func:`task_style`):

``numeric`` (GSM8K, arithmetic tasks)
    The answer is the number after the last ``####``, else after the last "The answer is", else after the
    last line starting with ``A:``, else inside the last ``\\boxed{}``, else the last number in the text.
    Commas, ``$``, ``%`` and a trailing ``.`` are dropped; the value is read as an exact fraction, so
    ``"18.00" == "18"`` and ``"1/2" == "0.5"``. Canonical form: an integer (``"18"``), a terminating decimal
    (``"0.5"``) or ``"p/q"``.

``math`` (MATH, MATH500 and any task not registered as numeric)
    The answer is the content of the last ``\\boxed{...}`` (balanced braces), else the text after the last
    "The answer is" (or ``####`` / ``A:``), else the last math segment of the final paragraph, else the last
    number. The string is normalised (``\\left``/``\\right``, spacing commands, ``dfrac``, degrees, ``\\%``,
    ``\\$``, ``\\text{}`` units, thousands separators, a leading ``x =``), parsed to sympy with math-verify
    and printed back as LaTeX after exact rational conversion of decimals and expansion of sums, so that
    ``"0.5"``, ``"1/2"`` and ``"\\frac{1}{2}"`` all become ``"\\frac{1}{2}"``. Equivalence to the reference is
    decided by ``math_verify.verify`` (symbolic and numeric), with string equality as fallback.

Canonical answers vote together: :func:`grade` returns the reference's canonical string as ``answer``
whenever the answer is judged equivalent to the reference, so every correct solution of a problem carries
the same answer string. Wrong answers that are equivalent to each other share a string whenever the
canonical printing coincides (it does for numbers, which is nearly all of them).

Time limits: every symbolic step runs under ``timeout`` seconds (default :data:`DEFAULT_TIMEOUT_S`). In the
main thread this uses ``SIGALRM``; in any other thread (or when an alarm is already pending) the symbolic
work is sent to a helper process (a ``python -c`` subprocess over pipes, safe after ``fork``) that is
killed and restarted if it overruns, so grading never hangs. Set ``collect.grading.sandbox.ISOLATE = True`` (or
``COLLECT_GRADING_ISOLATE=1``) to send all symbolic work there, which also bounds C-level arithmetic that
SIGALRM cannot interrupt; it costs one pipe round trip per distinct answer.
A timed-out parse falls back to the normalised string; a timed-out comparison counts as not equivalent.
Expressions too large to evaluate safely (huge powers or factorials, very long strings) are never
evaluated; they are compared as strings.

Results are cached per (style, string), so grading many solutions costs one symbolic parse per distinct
answer.

Example::

    >>> grade("gsm8k", "Step 1: 16 - 3 - 4 = 9.\\n\\nStep 2: 9 * 2 = 18. The answer is $18.00.", "18")
    Grade(answer='18', correct=True)
    >>> grade("math500", "So $x = \\\\boxed{0.5}$.", "\\\\frac{1}{2}").correct
    True

Modules, one job each: :mod:`.styles` (which rules a task follows), :mod:`.extract` (the final answer of a
text), :mod:`.normalize` (string rules), :mod:`.sandbox` (time limits, the helper process),
:mod:`.symbolic` (sympy / math-verify canonical forms and equivalence); this package grades.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

from . import sandbox
from .extract import extract_answer
from .normalize import normalize_answer, normalize_math, normalize_numeric, rational_latex, to_fraction
from .sandbox import _WORKER, GradingTimeout  # noqa: F401 - _WORKER: the helper process, for tests
from .styles import register_task, task_style
from .symbolic import MAX_DIGITS

__all__ = [
    "Grade",
    "GradingTimeout",
    "DEFAULT_TIMEOUT_S",
    "grade",
    "grade_many",
    "extract_answer",
    "normalize_answer",
    "canonical_answer",
    "answer_of",
    "is_equivalent",
    "task_style",
    "register_task",
    "clear_caches",
]

#: Seconds allowed for one symbolic parse or comparison.
DEFAULT_TIMEOUT_S = 5.0
#: Answers longer than this (after normalisation) are compared as strings, never parsed.
MAX_SYMBOLIC_CHARS = 300
_CACHE_SIZE = 1 << 18


@dataclass(frozen=True)
class Grade:
    """Result of grading one solution.

    Attributes:
        answer: canonical final answer, or None when no answer could be extracted.
        correct: whether the answer is equivalent to the reference (False when ``answer`` is None).
    """

    answer: str | None
    correct: bool


_INT_RE = re.compile(r"-?\d+")
_DEC_RE = re.compile(r"-?\d+\.\d+|-?\d+/\d+|-?\\frac\{\d+\}\{\d+\}|\\frac\{-\d+\}\{\d+\}")


_RATIONAL_CANON_RE = re.compile(r"-?\d+|(?:- )?\\frac\{\d+\}\{\d+\}")


@lru_cache(maxsize=_CACHE_SIZE)
def _canonical_cached(style: str, answer: str, timeout: float) -> str | None:
    if style == "numeric":
        out = normalize_numeric(answer)
        return out or None
    s = normalize_math(answer)
    if not s:
        return None
    if _INT_RE.fullmatch(s) and len(s) <= MAX_DIGITS:
        return str(int(s))
    if _DEC_RE.fullmatch(s):
        x = to_fraction(re.sub(r"\\frac\{(-?\d+)\}\{(\d+)\}", r"\1/\2", s))
        if x is not None:
            return rational_latex(x)
    if re.fullmatch(r"[A-Za-z][A-Za-z ]+[A-Za-z]", s):  # words ("Evelyn", "east"): compare as text
        return s.lower()
    if len(s) > MAX_SYMBOLIC_CHARS:
        return s
    try:
        return sandbox.with_timeout("canon", (s,), timeout)
    except GradingTimeout:
        return s
    except Exception:  # noqa: BLE001 - unparsable answers keep their normalised spelling
        return s


def canonical_answer(task: str, answer: str | None, *, timeout: float = DEFAULT_TIMEOUT_S) -> str | None:
    """Canonical form of an extracted answer string (None for an empty or missing answer).

    Equivalent spellings map to one string (``"0.5"``, ``"1/2"``, ``"\\frac{1}{2}"`` ->
    ``"\\frac{1}{2}"`` for math tasks, ``"0.5"`` for numeric tasks), and the map is idempotent.
    """
    if answer is None:
        return None
    if not isinstance(answer, str):
        raise TypeError(f"answer must be a string or None, got {type(answer).__name__}")
    if not answer.strip():
        return None
    return _canonical_cached(task_style(task), answer, float(timeout))


def answer_of(task: str, solution_text: str, *, timeout: float = DEFAULT_TIMEOUT_S) -> str | None:
    """Canonical final answer of a solution text (None when none can be extracted)."""
    return canonical_answer(task, extract_answer(task, solution_text), timeout=timeout)


@lru_cache(maxsize=_CACHE_SIZE)
def _equivalent_cached(style: str, reference: str, answer: str, timeout: float) -> bool:
    if reference == answer:
        return True
    if style == "numeric":
        a, b = to_fraction(reference), to_fraction(answer)
        return a is not None and b is not None and a == b
    if reference.replace(" ", "").lower() == answer.replace(" ", "").lower():
        return True
    if len(reference) > MAX_SYMBOLIC_CHARS or len(answer) > MAX_SYMBOLIC_CHARS:
        return False
    if _RATIONAL_CANON_RE.fullmatch(reference) and _RATIONAL_CANON_RE.fullmatch(answer):
        return False  # two different canonical rationals
    try:
        return bool(sandbox.with_timeout("equiv", (reference, answer), timeout))
    except GradingTimeout:
        return False
    except Exception:  # noqa: BLE001 - a comparison that cannot be made is not an equivalence
        return False


def is_equivalent(task: str, reference: str, answer: str, *, timeout: float = DEFAULT_TIMEOUT_S) -> bool:
    """Whether two answer strings (raw or canonical) are equivalent under the task's style."""
    ref = canonical_answer(task, reference, timeout=timeout)
    ans = canonical_answer(task, answer, timeout=timeout)
    if ref is None or ans is None:
        return False
    return _equivalent_cached(task_style(task), ref, ans, float(timeout))


# --------------------------------------------------------------------------------------------------
# grading
# --------------------------------------------------------------------------------------------------


def grade(task: str, solution_text: str, reference: str, *, timeout: float = DEFAULT_TIMEOUT_S) -> Grade:
    """Grade one solution against a reference answer.

    Args:
        task: task name; picks the style (:func:`task_style`).
        solution_text: the generated solution.
        reference: reference final answer (raw or canonical).
        timeout: seconds allowed for each symbolic parse or comparison.

    Returns:
        ``Grade(answer, correct)``: ``answer`` is the canonical extracted answer (the reference's canonical
        string when equivalent to it), None when nothing could be extracted; ``correct`` is False then.

    Raises:
        TypeError: ``solution_text`` or ``reference`` is not a string.
        ValueError: the reference is empty.
    """
    return _grade_extracted(task, reference, extract_answer(task, solution_text), timeout, "reference")


def _grade_extracted(task: str, reference: str, raw: str | None, timeout: float, where: str) -> Grade:
    """Grade an extracted raw answer against a reference; ``where`` prefixes error messages."""
    if not isinstance(reference, str):
        raise TypeError(f"{where}: expected a string, got {type(reference).__name__}")
    ref = canonical_answer(task, reference, timeout=timeout)
    if ref is None:
        raise ValueError(f"{where}: empty reference answer {reference!r} for task {task!r}")
    ans = canonical_answer(task, raw, timeout=timeout)
    if ans is None:
        return Grade(None, False)
    if _equivalent_cached(task_style(task), ref, ans, float(timeout)):
        return Grade(ref, True)
    return Grade(ans, False)


def grade_many(
    task: str,
    solution_texts: Sequence[str],
    references: str | Sequence[str],
    *,
    timeout: float = DEFAULT_TIMEOUT_S,
    progress: bool = False,
) -> list[Grade]:
    """Grade many solutions; ``references`` is one string for all or one per solution.

    Extraction is a regular-expression pass per text; symbolic work is done once per distinct
    (reference, answer) pair, so the cost grows with the number of distinct answers, not of solutions.
    """
    n = len(solution_texts)
    if isinstance(references, str):
        refs: Sequence[str] = [references] * n
    else:
        refs = references
        if len(refs) != n:
            raise ValueError(f"got {n} solutions but {len(refs)} references")
    iterator = range(n)
    if progress:
        from tqdm.auto import tqdm

        iterator = tqdm(iterator, desc=f"grading {task}", unit="sol")
    memo: dict[tuple[str, str | None], Grade] = {}
    out: list[Grade] = []
    for i in iterator:
        text, reference = solution_texts[i], refs[i]
        if not isinstance(text, str):
            raise TypeError(f"solution {i}: expected a string, got {type(text).__name__}")
        raw = extract_answer(task, text)
        key = (reference, raw)
        g = memo.get(key)
        if g is None:
            g = memo[key] = _grade_extracted(task, reference, raw, timeout, f"reference {i}")
        out.append(g)
    return out


def clear_caches() -> None:
    """Drop the canonical-answer and equivalence caches."""
    _canonical_cached.cache_clear()
    _equivalent_cached.cache_clear()
