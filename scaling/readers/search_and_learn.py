"""Hugging Face search-and-learn outputs: ``<approach>_completions.jsonl``.

What search-and-learn writes (``scripts/test_time_compute.py`` -> ``sal.utils.data.save_dataset``): the input
dataset's rows (MATH-500: ``problem``, ``solution``, ``answer``, ``subject``, ``level``, ``unique_id``) with,
per problem, ``completions`` (n texts), ``scores`` (per completion, the process reward model's score after
each step), ``pred`` (the completion chosen by the aggregated score), ``completion_tokens`` (per
completion; ``-1`` for DVTS, which does not count them) and, after ``sal.utils.score.score``,
``agg_scores`` and ``pred_{naive,weighted,maj}@k``.

How the contract is filled: one row per completion; ``step_rewards`` = its step scores, ``reward`` = their
aggregation ``step_agg`` (``last`` by default, as search-and-learn's own ``agg_scores``; or ``min``,
``prod``, ``mean``), named in the ``step_agg`` column; ``gen_tokens`` = ``completion_tokens``.  Not in
the file, so taken from the caller: the task, the policy model and its parameter count, the sampling
temperature (search-and-learn's config, default 0.8), the reward model's name and size, and a grader
(search-and-learn keeps no per-completion answer or correctness).  The chat-templated prompt is not
stored, so ``prompt_tokens`` stays null.

Only ``best_of_n`` output is i.i.d. sampling.  ``beam_search`` and ``dvts`` keep only the final beams: the
tokens of pruned branches (the contract's ``run_gen_tokens``, their compute) are not in the file, so they are
refused.

>>> from scaling.readers import read_search_and_learn
>>> import collect.grading
>>> df = read_search_and_learn("data/meta-llama/Llama-3.2-1B-Instruct/best_of_n_completions.jsonl",
...                            task="math500", model="Llama-3.2-1B-Instruct", params=1.24e9,
...                            grade=collect.grading.grade, reward_model="Llama3.1-8B-PRM")   # doctest: +SKIP
"""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd

from ..matrix import REWARD_AGGS, aggregate_steps
from ._common import (
    Grader,
    TokenizerArg,
    as_grading,
    fail,
    finish,
    first_json_line,
    iter_jsonl,
    method_of,
    no_tokens,
    require,
    token_counter,
)

FORMAT = "search-and-learn"
APPROACHES = ("best_of_n", "beam_search", "dvts")


def matches(path: Path) -> bool:
    """A ``.jsonl`` file whose first line holds ``completions``, ``scores`` and ``pred``."""
    first = first_json_line(path) if path.name.endswith(".jsonl") else None
    return first is not None and {"completions", "scores", "pred"} <= set(first)


def _steps(value: object, file: Path, rec: str, i: int) -> list[float]:
    """One completion's step scores as floats (a step scored as a one-element list is unwrapped)."""
    if not isinstance(value, list) or not value:
        raise fail(file, f"completion {i}: expected a non-empty list of step scores, got {value!r}", rec, "scores")
    out = []
    for v in value:
        if isinstance(v, list) and len(v) == 1:
            v = v[0]
        if isinstance(v, bool) or not isinstance(v, (int, float)):
            raise fail(file, f"completion {i}: step score {v!r} is not a number", rec, "scores")
        out.append(float(v))
    return out


def _problem_lists(obj: dict, file: Path, rec: str, problem_id: str, reference: str,
                   difficulty: str | None) -> tuple[list, list, list | int | None]:
    """A problem row's completions, their step-score lists and token counts (or None / -1), checked: equal
    lengths, and the id, reference and difficulty fields present."""
    comps, scores = obj.get("completions"), obj.get("scores")
    for name, v in (("completions", comps), ("scores", scores)):
        if not isinstance(v, list):
            raise fail(file, f"expected a list, got {type(v).__name__}", rec, name)
    if len(scores) != len(comps):
        raise fail(file, f"{len(scores)} score lists for {len(comps)} completions", rec, "scores")
    tokens = obj.get("completion_tokens")
    if tokens is not None and tokens != -1 and (not isinstance(tokens, list) or len(tokens) != len(comps)):
        raise fail(file, f"expected one count per completion ({len(comps)}), got {tokens!r}", rec,
                   "completion_tokens")
    for f in (problem_id, reference) + ((difficulty,) if difficulty else ()):
        if obj.get(f) is None:
            arg = "problem_id" if f == problem_id else "reference" if f == reference else "difficulty"
            raise fail(file, f"missing (the row has {sorted(obj)}); name the field with {arg}=", rec, f)
    return comps, scores, tokens


def read_search_and_learn(path: str | os.PathLike, *, task: str | None = None, model: str | None = None,
                          params: float | None = None, grade: Grader | str | None = None,
                          tokenizer: TokenizerArg = None, approach: str | None = None, step_agg: str = "last",
                          reward_model: str | None = None, reward_params: float | None = None,
                          temperature: float | None = None, problem_id: str = "unique_id",
                          reference: str = "answer", difficulty: str | None = None) -> pd.DataFrame:
    """Read one search-and-learn ``<approach>_completions.jsonl`` into a validated sample table.

    Parameters
    ----------
    path : the completions file.
    task, model, params : required -- the file holds none of them.
    grade : required -- ``grade(task, text, reference) -> (answer, correct)``, e.g. ``collect.grading.grade``.
    tokenizer : counts ``gen_tokens`` where ``completion_tokens`` is missing or ``-1``.
    approach : ``best_of_n`` (default: from the file name).
    step_agg : how ``reward`` aggregates the step scores: ``last`` (search-and-learn's ``agg_scores``), ``min``,
        ``prod`` or ``mean``.
    reward_model, reward_params : the process reward model's name and parameter count.
    temperature : the sampling temperature of the run (null when not given).
    problem_id, reference, difficulty : fields of each row holding the problem id (``unique_id`` in
        MATH-500), the reference answer (``answer``) and a difficulty label (e.g. ``level``).
    """
    file = Path(path)
    approach = approach or next((a for a in APPROACHES if file.name == f"{a}_completions.jsonl"), None)
    if approach is None:
        raise fail(file, f"the file name does not give the search approach (<approach>_completions.jsonl with "
                         f"approach in {APPROACHES}); pass approach=")
    if approach != "best_of_n":
        raise fail(file, f"approach {approach!r} keeps only its final beams: the tokens of pruned branches "
                         "(the contract's run_gen_tokens, the search's compute) are not in the file, so its cost "
                         "cannot be counted; only best_of_n (i.i.d. samples) can be read")
    if step_agg not in REWARD_AGGS:
        raise fail(file, f"step_agg must be one of {REWARD_AGGS}, got {step_agg!r}")
    require(file, "search-and-learn outputs", task=task, model=model, params=params)
    grading = as_grading(grade, file, "search-and-learn keeps no per-completion answer or correctness")
    counter = token_counter(tokenizer, model)

    rows: list[dict] = []
    for no, obj in iter_jsonl(file):
        rec = f"line {no}"
        comps, scores, tokens = _problem_lists(obj, file, rec, problem_id, reference, difficulty)
        for i, text in enumerate(comps):
            if not isinstance(text, str):
                raise fail(file, f"completion {i} is {type(text).__name__}, not text", rec, "completions")
            answer, correct = grading(task, text, str(obj[reference]))
            n_tok = tokens[i] if isinstance(tokens, list) else None
            if n_tok == -1:
                n_tok = None
            elif n_tok is not None and (isinstance(n_tok, bool) or not isinstance(n_tok, int) or n_tok < 0):
                raise fail(file, f"completion {i}: {n_tok!r} is not a token count", rec, "completion_tokens")
            rows.append({"problem_id": str(obj[problem_id]), "sample_id": i, "answer": answer, "correct": correct,
                         "gen_tokens": n_tok, "step_rewards": _steps(scores[i], file, rec, i), "_text": text,
                         "difficulty": None if difficulty is None else str(obj[difficulty]), "_row": rec})
    if not rows:
        raise fail(file, "holds no problems")
    df = pd.DataFrame.from_records(rows)
    unknown = df["gen_tokens"].isna().to_numpy()
    if unknown.any():
        if counter is None:
            raise no_tokens(file, f"{df['_row'][unknown].iloc[0]}: completion_tokens missing or -1")
        df.loc[unknown, "gen_tokens"] = counter(df["_text"][unknown].tolist())
    token_count = ("search-and-learn completion_tokens" if not unknown.any()
                   else f"{counter.name} (completion text)" if unknown.all()
                   else f"search-and-learn completion_tokens; {counter.name} where missing")
    df = df.drop(columns="_text").assign(
        task=task, model=model, params=float(params), method=method_of(temperature), temperature=temperature,
        reward=aggregate_steps(df["step_rewards"], step_agg), step_agg=step_agg, reward_model=reward_model,
        reward_params=reward_params, grader=grading.name, token_count=token_count, params_source="given")
    return finish(df, file).drop(columns="_row")
