"""Symbolic canonical form and equivalence of MATH-style answers (sympy via math-verify); every entry
point runs inside :mod:`.sandbox`'s time limit."""

from __future__ import annotations

import logging
import math
import re

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


MAX_DIGITS = 2000  # numbers with more digits than this are never evaluated


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
                    ) > MAX_DIGITS:
                        return True
                except (TypeError, ValueError, OverflowError):
                    return True
        elif isinstance(node, (sympy.factorial, sympy.factorial2, sympy.binomial)):
            try:
                if any(a.is_number and abs(float(a)) > 500 for a in node.args):
                    return True
            except (TypeError, ValueError, OverflowError):
                return True
        elif isinstance(node, sympy.Integer) and len(str(abs(int(node)))) > MAX_DIGITS:
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


_WARM = False


def warm_up() -> None:
    """Import sympy and math-verify and build the LaTeX parser outside any time limit."""
    global _WARM
    if not _WARM:
        _mv()
        _parse("x + 1")
        _WARM = True


SYMBOLIC = {"canon": _canonical_math_symbolic, "equiv": _equivalent_math_symbolic}

__all__ = ["SYMBOLIC", "MAX_DIGITS", "warm_up"]
