"""Grading styles: which extraction and normalisation rules a task's answers follow."""

from __future__ import annotations

_STYLES = {"gsm8k": "numeric", "arith": "numeric", "math": "math", "math500": "math"}


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


__all__ = ["register_task", "task_style"]
