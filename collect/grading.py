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
killed and restarted if it overruns, so grading never hangs. Set ``collect.grading.ISOLATE = True`` (or
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
"""

from __future__ import annotations

import atexit
import json
import logging
import math
import os
import re
import select
import signal
import subprocess
import sys
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction
from functools import lru_cache
from pathlib import Path

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

_STYLES = {"gsm8k": "numeric", "arith": "numeric", "math": "math", "math500": "math"}


class GradingTimeout(BaseException):
    """A symbolic step ran past its time limit.

    Derives from BaseException (like KeyboardInterrupt) so that the broad ``except Exception`` clauses
    inside sympy and math-verify cannot swallow it.
    """


@dataclass(frozen=True)
class Grade:
    """Result of grading one solution.

    Attributes:
        answer: canonical final answer, or None when no answer could be extracted.
        correct: whether the answer is equivalent to the reference (False when ``answer`` is None).
    """

    answer: str | None
    correct: bool


def register_task(task: str, style: str) -> None:
    """Grade ``task`` in ``style`` (``"numeric"`` or ``"math"``)."""
    if style not in ("numeric", "math"):
        raise ValueError(f"style must be 'numeric' or 'math', got {style!r}")
    _STYLES[task] = style


def task_style(task: str) -> str:
    """Grading style of a task: registered names first, then ``gsm*``/``arith*`` -> numeric, else math."""
    if not isinstance(task, str) or not task:
        raise TypeError(f"task must be a non-empty string, got {task!r}")
    if task in _STYLES:
        return _STYLES[task]
    low = task.lower()
    if low.startswith(("gsm", "arith")):
        return "numeric"
    return "math"


# --------------------------------------------------------------------------------------------------
# extraction
# --------------------------------------------------------------------------------------------------

_NUMBER = re.compile(
    r"(?<![\w.])-?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?(?:\s*/\s*\d+(?:\.\d+)?)?(?![\d])"
    r"|(?<![\w.])-?\.\d+"
)
_ANSWER_IS = re.compile(r"answer\s+is\s*(?:[:=]\s*)?", re.IGNORECASE)
_A_COLON = re.compile(r"(?:^|\n)\s*A\s*:", re.IGNORECASE)
_HASHES = re.compile(r"####")
_BOXED = re.compile(r"\\(?:boxed|fbox)\b")
_MATH_SEGMENT = re.compile(
    r"(?<!\\)\$\$(.+?)(?<!\\)\$\$|(?<!\\)\$(.+?)(?<!\\)\$|\\\((.+?)\\\)|\\\[(.+?)\\\]", re.DOTALL
)


def _last_boxed(text: str) -> str | None:
    """Content of the last ``\\boxed{...}`` / ``\\fbox{...}`` (balanced braces) or ``\\boxed x``."""
    matches = list(_BOXED.finditer(text))
    for m in reversed(matches):
        i = m.end()
        while i < len(text) and text[i] == " ":
            i += 1
        if i < len(text) and text[i] == "{":
            depth, j = 0, i
            while j < len(text):
                c = text[j]
                if c == "\\":
                    j += 2
                    continue
                if c == "{":
                    depth += 1
                elif c == "}":
                    depth -= 1
                    if depth == 0:
                        return text[i + 1 : j].strip()
                j += 1
            continue  # unbalanced: try an earlier box
        if i > m.end():  # "\boxed 5"
            tok = re.match(r"[^\s$]+", text[i:])
            if tok:
                return tok.group(0)
    return None


def _after_last(pattern: re.Pattern, text: str) -> str | None:
    last = None
    for m in pattern.finditer(text):
        last = m
    if last is None:
        return None
    return text[last.end() :]


def _first_number(s: str) -> str | None:
    m = _NUMBER.search(s)
    return m.group(0) if m else None


def _last_number(s: str) -> str | None:
    last = None
    for m in _NUMBER.finditer(s):
        last = m
    return last.group(0) if last else None


_LATEX_FRAC = re.compile(r"\\[dt]?frac\s*\{\s*(-?\d+)\s*\}\s*\{\s*(\d+)\s*\}")


def _plain_numbers(s: str) -> str:
    """LaTeX fractions to "a/b", "{,}" separators to ",", dollar signs to spaces."""
    s = re.sub(r"(?<=\d)\\[,!]\s*(?=\d{3})", "", s.replace("{,}", ","))  # 10\,000 -> 10000
    return _LATEX_FRAC.sub(r"\1/\2", s).replace("$", " ").replace("\u2212", "-")


def _extract_numeric(text: str) -> str | None:
    for pattern in (_HASHES, _ANSWER_IS, _A_COLON):
        rest = _after_last(pattern, text)
        if rest is not None:
            num = _first_number(_plain_numbers(rest.split("\n\n", 1)[0][:200]))
            if num is not None:
                return num
    boxed = _last_boxed(text)
    if boxed is not None:
        num = _first_number(_plain_numbers(boxed))
        if num is not None:
            return num
    return _last_number(_plain_numbers(text))


def _answer_phrase(rest: str) -> str | None:
    """The answer in the text following 'The answer is': a math segment, else the rest of the sentence."""
    rest = rest.lstrip()
    line = rest.split("\n", 1)[0].strip().replace("**", "")  # markdown bold
    boxed = _last_boxed(line)
    if boxed is not None:
        return boxed
    m = _MATH_SEGMENT.match(line)
    if m:
        return next(g for g in m.groups() if g is not None).strip()
    # up to the end of the sentence: a period followed by a space or the end of the line
    line = re.split(r"\.(?:\s|$)", line, maxsplit=1)[0]
    line = line.strip().strip("$").strip()
    return line or None


def _extract_math(text: str) -> str | None:
    boxed = _last_boxed(text)
    if boxed is not None:
        return boxed
    for pattern in (_ANSWER_IS, _HASHES, _A_COLON):
        rest = _after_last(pattern, text)
        if rest is not None:
            ans = _answer_phrase(rest)
            if ans:
                return ans
    # final paragraph: its last math segment, else the last number of the text
    final = text.strip().rsplit("\n\n", 1)[-1]
    segs = [next(g for g in m.groups() if g is not None) for m in _MATH_SEGMENT.finditer(final)]
    segs = [s.strip() for s in segs if s.strip()]
    if segs:
        seg = segs[-1]
        if "=" in seg:  # "... = 42" -> the right-hand side
            seg = seg.rsplit("=", 1)[1].strip()
        return seg or None
    return _last_number(text)


def extract_answer(task: str, solution_text: str) -> str | None:
    """Raw final-answer string of a solution (not normalised), or None when there is none."""
    if not isinstance(solution_text, str):
        raise TypeError(f"solution_text must be a string, got {type(solution_text).__name__}")
    if task_style(task) == "numeric":
        return _extract_numeric(solution_text)
    return _extract_math(solution_text)


# --------------------------------------------------------------------------------------------------
# normalisation
# --------------------------------------------------------------------------------------------------


def _to_fraction(s: str) -> Fraction | None:
    s = s.strip().replace(",", "").replace("$", "").replace("\\", "").replace("%", "").strip().rstrip(".")
    s = s.replace(" ", "")
    if not s:
        return None
    try:
        if "/" in s:
            num, den = s.split("/", 1)
            d = Fraction(den)
            return Fraction(num) / d if d != 0 else None
        return Fraction(s)
    except (ValueError, ZeroDivisionError):
        return None


def _format_fraction(x: Fraction) -> str:
    if x.denominator == 1:
        return str(x.numerator)
    d = x.denominator
    while d % 2 == 0:
        d //= 2
    while d % 5 == 0:
        d //= 5
    if d == 1:  # terminating decimal: print exactly, without exponent or trailing zeros
        digits = 0
        while (x * 10**digits).denominator != 1:
            digits += 1
        n = x.numerator * 10**digits // x.denominator
        sign = "-" if n < 0 else ""
        s = str(abs(n)).rjust(digits + 1, "0")
        return f"{sign}{s[:-digits]}.{s[-digits:]}"
    return f"{x.numerator}/{x.denominator}"


def _normalize_numeric(ans: str) -> str:
    x = _to_fraction(ans)
    if x is not None:
        return _format_fraction(x)
    return re.sub(r"\s+", " ", ans.strip().rstrip(".")).lower()


_TEXT_CMD = re.compile(r"\\(?:text|textbf|textit|mbox|mathrm|mathbf|textrm|operatorname)\s*\{([^{}]*)\}")
_UNIT_WORDS = (
    r"(?:units?|cm|centimeters?|m|meters?|km|kilometers?|mm|inches|inch|in|feet|foot|ft|yards?|miles?|"
    r"degrees?|deg|seconds?|sec|minutes?|min|hours?|hrs?|days?|weeks?|months?|years?|dollars?|cents?|"
    r"pounds?|lbs?|ounces?|oz|grams?|g|kg|kilograms?|liters?|l|ml|gallons?|square|sq|cubic|cu|"
    r"mph|points?|people|students?|ways?|times?|percent)"
)
_TRAILING_UNITS = re.compile(rf"^(.*?\d)\s*(?:{_UNIT_WORDS}\b[\s.]*)+(?:\^\{{?[23]\}}?)?$", re.IGNORECASE)


def _normalize_math(ans: str) -> str:
    """String-level normalisation of a MATH answer (no symbolic work)."""
    s = ans.strip().replace("**", "")  # markdown bold
    s = s.replace("\n", " ").replace("\u2212", "-")
    s = re.sub(r"(?<=\d)\\[,!]\s*(?=\d{3}(?!\d))", "", s)  # 10\,000 -> 10000
    for a, b in (("$$", ""), ("\\(", ""), ("\\)", ""), ("\\[", ""), ("\\]", "")):
        s = s.replace(a, b)
    s = s.replace("\\$", "").replace("$", "")
    s = s.replace("\\displaystyle", "").replace("\\mathrm{~}", " ")
    s = re.sub(r"\\(?:left|right)\s*\.", "", s)
    s = re.sub(r"\\(?:left|right|bigl|bigr|Bigl|Bigr|biggl|biggr|big|Big|bigg|Bigg)(?![a-zA-Z])", "", s)
    s = re.sub(r"\\[!,;:>]", "", s)
    s = re.sub(r"\\q?quad(?![a-zA-Z])", " ", s)
    s = s.replace("\\ ", " ").replace("~", " ")
    s = re.sub(r"\\[dt]frac(?![a-zA-Z])", r"\\frac", s)
    s = re.sub(r"\^\s*\{\s*\\circ\s*\}|\^\s*\\circ|\\circ|\\degree|°", "", s)
    s = s.replace("\\%", "").replace("%", "")
    s = s.replace("{,}", "")
    s = re.sub(r"\\(?:mbox|textbf|textit|textrm|mathrm|mathbf|operatorname)\s*\{", r"\\text{", s)
    # text: an answer that is only text is unwrapped; connectives become commas; units are dropped
    whole = re.fullmatch(r"\\text\s*\{([^{}]*)\}", s.strip())
    if whole:
        s = whole.group(1)
    else:
        s = re.sub(r"\\text\s*\{\s*(?:and|or|,)\s*\}", ",", s)
        stripped = re.sub(r"\\text\s*\{[^{}]*\}(?:\s*\^\s*\{?[23]\}?)?", "", s).strip()
        if stripped and re.search(r"[\d\w}]", stripped):
            s = stripped
        s = _TEXT_CMD.sub(r"\1", s)
    s = re.sub(r"\s+", " ", s).strip()
    m = _TRAILING_UNITS.match(s)
    if m:
        s = m.group(1)
    # multiple choice "(C)" -> "C"
    m = re.fullmatch(r"\(?\s*([A-Ea-e])\s*\)", s)
    if m:
        s = m.group(1).upper()
    # "x = 5" -> "5" and "x \\in [1, 2]" -> "[1, 2]" (a short single left-hand side)
    m = re.fullmatch(r"\s*\\?[a-zA-Z]{1,6}\s*\\in(?![a-zA-Z])\s*(.+)", s)
    if m:
        s = m.group(1)
    if s.count("=") == 1 and "\\le" not in s and "\\ge" not in s:
        lhs, rhs = s.split("=")
        if re.fullmatch(r"\s*\\?[a-zA-Z]{1,6}(?:_\{?\w+\}?)?\s*", lhs) and rhs.strip():
            s = rhs.strip()
    # thousands separators in a plain number
    if re.fullmatch(r"-?\d{1,3}(?:,\d{3})+(?:\.\d+)?", s):
        s = s.replace(",", "")
    s = re.sub(r"\\sqrt\s*(\d|[a-zA-Z](?![a-zA-Z]))", r"\\sqrt{\1}", s)
    s = re.sub(r"\\frac\s*(\d)\s*(\d)", r"\\frac{\1}{\2}", s)
    s = re.sub(r"\\frac\s*\{([^{}]*)\}\s*(\d)", r"\\frac{\1}{\2}", s)
    s = s.strip().rstrip(".").rstrip(",").strip()
    if re.fullmatch(r"-?\.\d+", s):
        s = s.replace(".", "0.", 1)
    return s


def normalize_answer(task: str, answer: str) -> str:
    """String-level normalisation of an extracted answer (no symbolic parsing)."""
    if task_style(task) == "numeric":
        return _normalize_numeric(answer)
    return _normalize_math(answer)


# --------------------------------------------------------------------------------------------------
# time limits
# --------------------------------------------------------------------------------------------------


def _alarm_handler(signum, frame):
    raise GradingTimeout("symbolic grading step timed out")


def _can_use_alarm() -> bool:
    return (
        hasattr(signal, "setitimer")
        and threading.current_thread() is threading.main_thread()
        and signal.getitimer(signal.ITIMER_REAL)[0] == 0.0
    )


class _Worker:
    """A helper process that runs symbolic steps for callers outside the main thread.

    It is a plain ``python -c`` subprocess speaking JSON lines over stdin/stdout (not
    ``multiprocessing``, which would re-import the caller's ``__main__``). It applies the same SIGALRM
    limit in its own main thread; if it does not answer in time it is killed and restarted.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._proc: subprocess.Popen | None = None
        self._owner = os.getpid()

    def _start(self) -> None:
        root = str(Path(__file__).resolve().parent.parent)
        env = dict(os.environ)
        env["PYTHONPATH"] = root + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
        self._proc = subprocess.Popen(
            [sys.executable, "-c", "from collect.grading import _worker_main; _worker_main()"],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
            env=env, text=True, bufsize=1,
        )

    def _stop(self) -> None:
        if self._proc is not None:
            self._proc.kill()
            self._proc.wait(5)
            for f in (self._proc.stdin, self._proc.stdout):
                if f is not None:
                    f.close()
        self._proc = None

    def call(self, fname: str, args: tuple, timeout: float):
        with self._lock:
            if self._owner != os.getpid():  # forked: the pipes belong to the parent process
                self._proc, self._owner = None, os.getpid()
            first = self._proc is None or self._proc.poll() is not None
            if first:
                self._stop()
                self._start()
            # a fresh worker also needs time for its imports (sympy, math-verify)
            wait = timeout + (60.0 if first else 5.0)
            try:
                self._proc.stdin.write(json.dumps([fname, list(args), timeout]) + "\n")
                self._proc.stdin.flush()
                ready, _, _ = select.select([self._proc.stdout], [], [], wait)
                line = self._proc.stdout.readline() if ready else ""
            except (BrokenPipeError, OSError, ValueError):
                line = ""
            if not line:
                self._stop()  # overran or died: kill it; the next call starts a fresh one
                raise GradingTimeout(f"{fname} got no answer from the grading worker within {wait:.0f} s")
            ok, value = json.loads(line)
            if ok:
                return value
            raise GradingTimeout(value)


def _worker_main() -> None:  # pragma: no cover - runs in the helper process
    _warm_up()
    for line in sys.stdin:
        fname, args, timeout = json.loads(line)
        try:
            reply = [True, _run_limited(_SYMBOLIC[fname], tuple(args), timeout)]
        except GradingTimeout as e:
            reply = [False, str(e)]
        except Exception as e:  # noqa: BLE001 - report and keep serving
            reply = [False, f"{type(e).__name__}: {e}"]
        sys.stdout.write(json.dumps(reply) + "\n")
        sys.stdout.flush()


_WORKER = _Worker()
atexit.register(_WORKER._stop)


def _run_limited(fn, args: tuple, timeout: float):
    """Run ``fn(*args)`` in the main thread under a SIGALRM time limit."""
    old = signal.signal(signal.SIGALRM, _alarm_handler)
    # re-fire every 0.1 s in case a handler deep inside a library swallows the first one
    signal.setitimer(signal.ITIMER_REAL, timeout, 0.1)
    try:
        return fn(*args)
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)


_WARM = False


def _warm_up() -> None:
    """Import sympy and math-verify and build the LaTeX parser outside any time limit."""
    global _WARM
    if not _WARM:
        _mv()
        _parse("x + 1")
        _WARM = True


#: Run every symbolic step in the helper process, also in the main thread. The helper is killed when it
#: overruns, which also stops computations that SIGALRM cannot interrupt (long C-level arithmetic); the
#: cost is one pipe round trip per distinct answer. Default: the environment variable
#: ``COLLECT_GRADING_ISOLATE=1``, else off (in-process with SIGALRM in the main thread).
ISOLATE = os.environ.get("COLLECT_GRADING_ISOLATE", "0") not in ("", "0", "false", "no")


def _with_timeout(fname: str, args: tuple, timeout: float):
    if not ISOLATE and _can_use_alarm():
        _warm_up()
        return _run_limited(_SYMBOLIC[fname], args, timeout)
    return _WORKER.call(fname, args, timeout)


# --------------------------------------------------------------------------------------------------
# symbolic canonical form and equivalence (math style)
# --------------------------------------------------------------------------------------------------

_MV = None


def _mv():
    """Import math-verify lazily (and silence its 'timeout disabled' notice: we apply our own limit)."""
    global _MV
    if _MV is None:
        import math_verify
        from math_verify.parser import LatexExtractionConfig, NormalizationConfig

        for name in ("math_verify", "math_verify.parser", "math_verify.grader"):
            logging.getLogger(name).setLevel(logging.ERROR)
        config = [
            LatexExtractionConfig(
                try_extract_without_anchor=True,
                normalization_config=NormalizationConfig(
                    basic_latex=True, units=True, malformed_operators=True, nits=True, boxed="all",
                    equations=False,
                ),
            )
        ]
        _MV = (math_verify, config)
    return _MV


def _parse(s: str):
    math_verify, config = _mv()
    return math_verify.parse(f"${s}$", extraction_config=config, parsing_timeout=None)


_MAX_DIGITS = 2000  # numbers with more digits than this are never evaluated


def _too_big(expr) -> bool:
    """True when evaluating ``expr`` could build an enormous number (huge power, factorial, ...)."""
    import sympy

    for node in sympy.preorder_traversal(expr):
        if isinstance(node, sympy.Pow):
            base, exp = node.args
            if exp.is_number and base.is_number:
                try:
                    if exp.has(sympy.Pow, sympy.factorial) or abs(float(exp)) * math.log10(
                        abs(float(base)) + 2
                    ) > _MAX_DIGITS:
                        return True
                except (TypeError, ValueError, OverflowError):
                    return True
        elif isinstance(node, (sympy.factorial, sympy.factorial2, sympy.binomial)):
            try:
                if any(a.is_number and abs(float(a)) > 500 for a in node.args):
                    return True
            except (TypeError, ValueError, OverflowError):
                return True
        elif isinstance(node, sympy.Integer) and len(str(abs(int(node)))) > _MAX_DIGITS:
            return True
    return False


def _rebuild(expr):
    """Evaluate an expression tree bottom-up, turning decimals into exact rationals."""
    import sympy

    if isinstance(expr, sympy.Float):
        return sympy.Rational(str(expr))
    if isinstance(expr, sympy.MatrixBase):
        return sympy.ImmutableMatrix(expr.applyfunc(_rebuild))
    if not isinstance(expr, sympy.Basic) or not expr.args:
        return expr
    if isinstance(expr, (sympy.Symbol, sympy.Number)):
        return expr
    args = [_rebuild(a) for a in expr.args]
    try:
        out = expr.func(*args)
    except Exception:  # noqa: BLE001 - some containers refuse rebuilt args; keep the original
        return expr
    if isinstance(out, sympy.logic.boolalg.BooleanAtom) and not isinstance(expr, sympy.logic.boolalg.BooleanAtom):
        return expr  # e.g. Eq(x, Interval(...)) would evaluate to False
    if isinstance(out, sympy.Expr) and not isinstance(out, sympy.Number) and out.is_number:
        # numbers: collect terms canonically, e.g. (1 + sqrt(3))/2 -> 1/2 + sqrt(3)/2
        out = sympy.expand(out)
    elif isinstance(out, sympy.Expr) and out.free_symbols and out.is_polynomial():
        out = sympy.expand(out)
    return out


def _canonical_math_symbolic(s: str) -> str:
    """Canonical LaTeX of a normalised MATH answer (runs under a time limit)."""
    import sympy

    parsed = _parse(s)
    if not parsed or not isinstance(parsed[0], (sympy.Basic, sympy.MatrixBase)):
        return s
    expr = parsed[0]
    if isinstance(expr, sympy.Basic) and _too_big(expr):
        return s
    canon = _rebuild(expr)
    if isinstance(canon, (sympy.Basic, sympy.MatrixBase)) and not isinstance(canon, sympy.Symbol):
        text = sympy.latex(canon)
        # drop sizing and spacing commands, which normalisation strips anyway
        text = re.sub(r"\\(?:left|right)(?![a-zA-Z])|\\[,;!]", "", text).replace("\\ ", " ")
        text = re.sub(r"\s+", " ", text).strip()
    elif isinstance(canon, sympy.Symbol):
        text = s  # plain words and single letters: keep their spelling (math-verify lowercases them)
    else:
        text = str(canon)
    return text


def _equivalent_math_symbolic(reference: str, answer: str) -> bool:
    import sympy

    math_verify, _ = _mv()
    gold = _parse(reference)
    pred = _parse(answer)
    if not gold or not pred:
        return False
    if any(_too_big(x[0]) for x in (gold, pred) if isinstance(x[0], sympy.Basic)):
        return False  # comparing would evaluate an enormous number (not interruptible); strings differ
    return bool(math_verify.verify(gold, pred, timeout_seconds=None))


_SYMBOLIC = {"canon": _canonical_math_symbolic, "equiv": _equivalent_math_symbolic}

_INT_RE = re.compile(r"-?\d+")
_DEC_RE = re.compile(r"-?\d+\.\d+|-?\d+/\d+|-?\\frac\{\d+\}\{\d+\}|\\frac\{-\d+\}\{\d+\}")


# canonical spelling of a rational number (see _rational_latex); distinct strings are distinct values
_RATIONAL_CANON_RE = re.compile(r"-?\d+|(?:- )?\\frac\{\d+\}\{\d+\}")


def _rational_latex(x: Fraction) -> str:
    if x.denominator == 1:
        return str(x.numerator)
    sign = "- " if x < 0 else ""
    return f"{sign}\\frac{{{abs(x.numerator)}}}{{{x.denominator}}}"


@lru_cache(maxsize=_CACHE_SIZE)
def _canonical_cached(style: str, answer: str, timeout: float) -> str | None:
    if style == "numeric":
        out = _normalize_numeric(answer)
        return out or None
    s = _normalize_math(answer)
    if not s:
        return None
    if _INT_RE.fullmatch(s) and len(s) <= _MAX_DIGITS:
        return str(int(s))
    if _DEC_RE.fullmatch(s):
        x = _to_fraction(re.sub(r"\\frac\{(-?\d+)\}\{(\d+)\}", r"\1/\2", s))
        if x is not None:
            return _rational_latex(x)
    if re.fullmatch(r"[A-Za-z][A-Za-z ]+[A-Za-z]", s):  # words ("Evelyn", "east"): compare as text
        return s.lower()
    if len(s) > MAX_SYMBOLIC_CHARS:
        return s
    try:
        return _with_timeout("canon", (s,), timeout)
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
        a, b = _to_fraction(reference), _to_fraction(answer)
        return a is not None and b is not None and a == b
    if reference.replace(" ", "").lower() == answer.replace(" ", "").lower():
        return True
    if len(reference) > MAX_SYMBOLIC_CHARS or len(answer) > MAX_SYMBOLIC_CHARS:
        return False
    if _RATIONAL_CANON_RE.fullmatch(reference) and _RATIONAL_CANON_RE.fullmatch(answer):
        return False  # two different canonical rationals
    try:
        return bool(_with_timeout("equiv", (reference, answer), timeout))
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
