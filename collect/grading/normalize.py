"""Answer normalisation: the string rules applied before any symbolic work (numbers as exact fractions,
LaTeX spacing, units, ``\\text{}``, thousands separators, ...)."""

from __future__ import annotations

import re
from fractions import Fraction

from .styles import task_style


def to_fraction(s: str) -> Fraction | None:
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


def normalize_numeric(ans: str) -> str:
    x = to_fraction(ans)
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


def normalize_math(ans: str) -> str:
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
        return normalize_numeric(answer)
    return normalize_math(answer)


# canonical spelling of a rational number (see rational_latex); distinct strings are distinct values
def rational_latex(x: Fraction) -> str:
    if x.denominator == 1:
        return str(x.numerator)
    sign = "- " if x < 0 else ""
    return f"{sign}\\frac{{{abs(x.numerator)}}}{{{x.denominator}}}"


__all__ = ["normalize_answer", "normalize_numeric", "normalize_math", "to_fraction", "rational_latex"]
