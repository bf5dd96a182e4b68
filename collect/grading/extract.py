"""Answer extraction: the final answer of a solution text, by the task's style (:mod:`collect.grading`)."""

from __future__ import annotations

import re

from .styles import task_style

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


__all__ = ["extract_answer"]
