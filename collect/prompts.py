"""Plain-text prompts that ask a (base or fine-tuned, not chat) language model for step-wise solutions.

Solution format, shared by sampling, process reward models and tree search::

    Step 1: <first step>

    Step 2: <second step> ... The answer is <X>.

One step per paragraph; steps are separated by a blank line (:data:`STEP_DELIMITER` ``"\\n\\n"``); the last
step ends with "The answer is X." The prompt ends with ``"Answer:\\n"`` so the completion starts with
``"Step 1:"``.

Templates (``build_prompt(..., template=...)``):

``"step"``
    An instruction describing the format, ``few_shot`` worked examples written step by step, then the
    question.
``"plain"``
    ``Question: ...`` / ``Answer:`` with worked examples written as one paragraph each; no step markup.

Worked examples come from a small set written for this project, in two styles picked from the task's
grading style (:func:`collect.grading.task_style`): grade-school word problems for numeric tasks (GSM8K,
arithmetic) and competition-style problems with LaTeX answers for math tasks (MATH).

Example::

    >>> from collect.tasks import Problem
    >>> p = Problem("gsm8k", "0", "Ann has 3 apples and buys 4 more. How many apples does she have?", "7")
    >>> print(build_prompt(p, few_shot=1).splitlines()[-1])
    Answer:
    >>> split_steps("Step 1: 3 + 4 = 7.\\n\\nStep 2: The answer is 7.")
    ['Step 1: 3 + 4 = 7.', 'Step 2: The answer is 7.']
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from collect.tasks import Problem

__all__ = [
    "STEP_DELIMITER",
    "STOP_SEQUENCES",
    "TEMPLATES",
    "WorkedExample",
    "EXAMPLES",
    "build_prompt",
    "split_steps",
    "join_steps",
    "format_solution",
    "has_final_answer",
]

#: Separator between solution steps (a blank line).
STEP_DELIMITER = "\n\n"
#: Stop strings for sampling whole solutions with these prompts: the model starting the next question.
STOP_SEQUENCES = ["\nQuestion:", "\n\n\n"]
#: Template names accepted by :func:`build_prompt`.
TEMPLATES = ("step", "plain")

_INSTRUCTION = (
    "Solve the problem step by step. Write each step as one paragraph that starts with "
    '"Step k:", leave a blank line between steps, and end the last step with "The answer is X."'
)
_PLAIN_INSTRUCTION = 'Solve the problem. End the solution with "The answer is X."'


@dataclass(frozen=True)
class WorkedExample:
    """A worked example: question, solution steps (without "Step k:" labels) and final answer."""

    question: str
    steps: tuple[str, ...]
    answer: str


EXAMPLES: dict[str, tuple[WorkedExample, ...]] = {
    "numeric": (
        WorkedExample(
            "A baker makes 48 muffins. She sells 3/4 of them in the morning and gives 5 of the rest to a "
            "neighbour. How many muffins does she have left?",
            ("She sells 48 * 3/4 = 36 muffins in the morning.",
             "That leaves 48 - 36 = 12 muffins.",
             "After giving 5 away she has 12 - 5 = 7 muffins."),
            "7",
        ),
        WorkedExample(
            "Tom reads 12 pages on Monday and twice as many pages on Tuesday. His book has 100 pages. "
            "How many pages does he still have to read?",
            ("On Tuesday he reads 12 * 2 = 24 pages.",
             "So far he has read 12 + 24 = 36 pages.",
             "He still has 100 - 36 = 64 pages to read."),
            "64",
        ),
        WorkedExample(
            "A museum ticket costs $15 for an adult and $9 for a child. How much does a family of 2 adults "
            "and 3 children pay?",
            ("The adults pay 2 * 15 = $30.",
             "The children pay 3 * 9 = $27.",
             "Together they pay 30 + 27 = $57."),
            "57",
        ),
        WorkedExample(
            "A water tank holds 250 litres. It leaks 4 litres every hour for one day, and then 30 litres "
            "are added. How many litres are in the tank now?",
            ("One day has 24 hours, so the tank loses 24 * 4 = 96 litres.",
             "After the leak it holds 250 - 96 = 154 litres.",
             "After adding water it holds 154 + 30 = 184 litres."),
            "184",
        ),
    ),
    "math": (
        WorkedExample(
            "Solve for $x$: $3x - 7 = 11$.",
            ("Adding 7 to both sides gives $3x = 18$.",
             "Dividing both sides by 3 gives $x = 6$."),
            "$6$",
        ),
        WorkedExample(
            "What is the sum of the roots of $x^2 - 5x + 6 = 0$?",
            ("The quadratic factors as $(x - 2)(x - 3) = 0$, so the roots are $2$ and $3$.",
             "Their sum is $2 + 3 = 5$."),
            "$5$",
        ),
        WorkedExample(
            "Simplify $\\sqrt{50} + \\sqrt{8}$.",
            ("Since $50 = 25 \\cdot 2$, we have $\\sqrt{50} = 5\\sqrt{2}$.",
             "Since $8 = 4 \\cdot 2$, we have $\\sqrt{8} = 2\\sqrt{2}$.",
             "Adding, $5\\sqrt{2} + 2\\sqrt{2} = 7\\sqrt{2}$."),
            "$7\\sqrt{2}$",
        ),
        WorkedExample(
            "A fair six-sided die is rolled once. What is the probability that it shows a number greater "
            "than 4? Express your answer as a common fraction.",
            ("The outcomes greater than 4 are 5 and 6, which is 2 of the 6 equally likely outcomes.",
             "The probability is $\\frac{2}{6} = \\frac{1}{3}$."),
            "$\\frac{1}{3}$",
        ),
    ),
}


def format_solution(steps: list[str] | tuple[str, ...], answer: str | None = None) -> str:
    """Write steps in the step format; ``answer`` (if given) closes the last step with "The answer is X."."""
    if not steps:
        raise ValueError("a solution needs at least one step")
    parts = [f"Step {i}: {s.strip()}" for i, s in enumerate(steps, start=1)]
    if answer is not None:
        parts[-1] = f"{parts[-1]} The answer is {answer}."
    return STEP_DELIMITER.join(parts)


def split_steps(text: str) -> list[str]:
    """Split a (partial or full) solution into steps at blank lines.

    Paragraphs are stripped of surrounding whitespace; empty paragraphs (runs of blank lines) are dropped,
    so ``STEP_DELIMITER.join(split_steps(t))`` is ``t`` with whitespace around steps normalised.
    """
    if not isinstance(text, str):
        raise TypeError(f"text must be a string, got {type(text).__name__}")
    return [p.strip() for p in re.split(r"\n[ \t]*\n", text) if p.strip()]


def join_steps(steps: list[str]) -> str:
    """Inverse of :func:`split_steps`: steps joined by :data:`STEP_DELIMITER`."""
    return STEP_DELIMITER.join(s.strip() for s in steps)


_FINAL_RE = re.compile(r"answer\s+is|\\boxed\b|####", re.IGNORECASE)


def has_final_answer(text: str) -> bool:
    """Whether a (partial) solution states its final answer ("The answer is", ``\\boxed``, ``####``)."""
    return bool(_FINAL_RE.search(text))


def _examples_for(task: str, style: str | None) -> tuple[WorkedExample, ...]:
    if style is None:
        from collect.grading import task_style

        style = task_style(task)
    if style not in EXAMPLES:
        raise ValueError(f"unknown example style {style!r}: expected one of {sorted(EXAMPLES)}")
    return EXAMPLES[style]


def build_prompt(
    problem: Problem | str,
    *,
    few_shot: int = 0,
    template: str = "step",
    examples: str | None = None,
) -> str:
    """Plain-text prompt for one problem.

    Args:
        problem: a :class:`~collect.tasks.Problem` (or a bare question string, graded as a math task).
        few_shot: number of worked examples before the question (0 to 4).
        template: ``"step"`` (step-wise solutions) or ``"plain"``.
        examples: worked-example style, ``"numeric"`` or ``"math"``; default from the task's grading style.

    Returns:
        The prompt, ending with ``"Answer:\\n"``.
    """
    if isinstance(problem, Problem):
        question, task = problem.question, problem.task
    elif isinstance(problem, str):
        question, task = problem, "math"
    else:
        raise TypeError(f"problem must be a Problem or a string, got {type(problem).__name__}")
    if template not in TEMPLATES:
        raise ValueError(f"unknown template {template!r}: expected one of {list(TEMPLATES)}")
    pool = _examples_for(task, examples)
    if not isinstance(few_shot, int) or few_shot < 0 or few_shot > len(pool):
        raise ValueError(f"few_shot must be an integer from 0 to {len(pool)}, got {few_shot!r}")
    blocks = [_INSTRUCTION if template == "step" else _PLAIN_INSTRUCTION]
    for ex in pool[:few_shot]:
        if template == "step":
            solution = format_solution(ex.steps, ex.answer)
        else:
            solution = " ".join(ex.steps) + f" The answer is {ex.answer}."
        blocks.append(f"Question: {ex.question.strip()}\nAnswer:\n{solution}")
    blocks.append(f"Question: {question.strip()}\nAnswer:\n")
    return "\n\n\n".join(blocks)
