"""Large Language Monkeys per-problem files: a folder of ``<problem id>.yaml``.

What Large Language Monkeys writes (``llmonk/generate/*.py``, ``llmonk/utils.py:save_yaml``): one YAML file
per problem, named by its id, with ``prompt``, ``question``, ``samples`` (the generated texts) and, for
GSM8K and MATH, ``gt_answer`` (the dataset's reference *solution*); its evaluation scripts
(``llmonk/evaluate/*.py``) write the same file with ``is_corrects`` (one boolean per sample) added.

How the contract is filled: one row per sample, ``problem_id`` = the file name's stem, ``sample_id`` = its
position.  ``correct`` = ``is_corrects`` (the tool's own verdict; ``correct="grader"`` uses the grader's
instead).  The files keep no extracted answers, no token counts, no model name, size or temperature, so
``grade(task, text, reference)`` (e.g. ``collect.grading.grade``; it supplies ``answer``, needed for voting),
``tokenizer=`` (``gen_tokens`` of each sample's text, which ends before the stop string; ``prompt_tokens``
of ``prompt``), ``task``, ``model`` and ``params`` are required; ``temperature`` is optional (the tool's
default is 0.6).  ``reference`` names the field or function giving the reference answer the grader
compares with (default ``gt_answer``; for GSM8K, where it is the whole solution, e.g.
``reference=lambda rec: rec["gt_answer"].split("####")[-1].strip()``).

>>> from scaling.readers import read_monkeys
>>> import collect.grading
>>> df = read_monkeys("samples/gsm8k_llama8b/", task="gsm8k", model="Llama-3-8B", params=8.03e9,
...                   grade=collect.grading.grade, tokenizer="path/to/Llama-3-8B")   # doctest: +SKIP
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pandas as pd

from ._common import (
    Grader,
    TokenizerArg,
    as_grading,
    fail,
    finish,
    method_of,
    no_tokens,
    require,
    token_counter,
)

FORMAT = "monkeys"
SUFFIXES = (".yaml", ".yml")
_KEYS = ("samples:", "is_corrects:", "gt_answer:")


def matches(path: Path) -> bool:
    """A ``.yaml`` file with a top-level ``samples`` key and ``gt_answer`` or ``is_corrects`` (a sniff of the
    first 64 KiB; ``yaml.dump(sort_keys=True)`` writes ``gt_answer`` and ``is_corrects`` first)."""
    if path.suffix not in SUFFIXES:
        return False
    try:
        with open(path) as fh:
            head = fh.read(1 << 16)
    except (OSError, UnicodeDecodeError):
        return False
    tops = {line.split(":", 1)[0] + ":" for line in head.splitlines() if line[:1].isalpha()}
    return "samples:" in tops or ("gt_answer:" in tops and "is_corrects:" in tops)


def _yaml(file: Path) -> dict:
    try:
        import yaml
    except ImportError as exc:
        raise fail(file, "reading Large Language Monkeys files needs PyYAML (pip install pyyaml, or "
                         "pip install -e '.[readers]')") from exc
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    try:
        with open(file) as fh:
            obj = yaml.load(fh, Loader=loader)
    except yaml.YAMLError as exc:
        raise fail(file, f"not valid YAML ({exc})") from exc
    if not isinstance(obj, dict):
        raise fail(file, f"expected a mapping at the top level, got {type(obj).__name__}")
    return obj


def _tool_verdict(verdict, answer: str | None, grader: str, file: Path, rec: str) -> bool:
    """The tool's ``is_corrects`` entry as a bool; a correct sample must have an answer the grader found."""
    if not (isinstance(verdict, bool) or verdict in (0, 1)):
        raise fail(file, f"{verdict!r} is not a boolean", rec, "is_corrects")
    if verdict and answer is None:
        raise fail(file, f"the tool marks it correct but the grader ({grader}) finds no answer in it (majority "
                         "voting needs one); pass correct='grader' or another grade=", rec, "is_corrects")
    return bool(verdict)


def read_monkeys(path: str | os.PathLike | list, *, task: str | None = None, model: str | None = None,
                 params: float | None = None, grade: Grader | str | None = None, tokenizer: TokenizerArg = None,
                 correct: str = "tool", reference: str | Callable[[dict], str] = "gt_answer",
                 temperature: float | None = None) -> pd.DataFrame:
    """Read a folder of Large Language Monkeys ``<problem id>.yaml`` files (or a list of them) into a
    validated sample table.

    Parameters
    ----------
    path : the folder (every ``.yaml``/``.yml`` in it), one file, or a list of files.
    task, model, params : required -- the files hold none of them.
    grade : required -- ``grade(task, text, reference) -> (answer, correct)``, e.g. ``collect.grading.grade``.
    tokenizer : required -- counts ``gen_tokens`` and ``prompt_tokens``.
    correct : ``"tool"`` (``is_corrects``, default) or ``"grader"``; files without ``is_corrects`` use the grader.
    reference : field, or function of the file's record, giving the reference answer for the grader.
    temperature : the sampling temperature of the run (null when not given).
    """
    if isinstance(path, (list, tuple)):
        files = sorted(Path(p) for p in path)
        label = files[0].parent if files else Path(".")
    else:
        label = Path(path)
        files = sorted(p for p in label.iterdir() if p.suffix in SUFFIXES) if label.is_dir() else [label]
    if not files:
        raise fail(label, "no .yaml files")
    if correct not in ("tool", "grader"):
        raise fail(label, f"correct must be 'tool' or 'grader', got {correct!r}")
    require(label, "Large Language Monkeys files", task=task, model=model, params=params)
    grading = as_grading(grade, label, "Large Language Monkeys files keep no extracted answers (majority voting "
                                       "needs them)")
    counter = token_counter(tokenizer, model)
    if counter is None:
        raise no_tokens(label, "Large Language Monkeys files hold no token counts")

    rows: list[dict] = []
    texts: list[str] = []
    prompts: dict[int, str] = {}      # file index -> prompt (counted once per file)
    verdict_files = 0
    for f_no, file in enumerate(files):
        obj = _yaml(file)
        samples = obj.get("samples")
        if not isinstance(samples, list):
            raise fail(file, f"expected a list of texts, got {type(samples).__name__}", None, "samples")
        verdicts = obj.get("is_corrects") if correct == "tool" else None
        if verdicts is not None and (not isinstance(verdicts, list) or len(verdicts) != len(samples)):
            raise fail(file, f"expected {len(samples)} booleans, one per sample", None, "is_corrects")
        verdict_files += verdicts is not None
        try:
            ref = reference(obj) if callable(reference) else obj[reference]
        except (KeyError, TypeError, IndexError, AttributeError) as exc:
            raise fail(file, f"no reference answer ({exc!r}; the file has {sorted(obj)})", None,
                       reference if isinstance(reference, str) else "reference") from exc
        if isinstance(obj.get("prompt"), str):
            prompts[f_no] = obj["prompt"]
        for i, text in enumerate(samples):
            rec = f"sample {i}"
            if not isinstance(text, str):
                raise fail(file, f"is {type(text).__name__}, not text", rec, "samples")
            answer, ok = grading(task, text, str(ref))
            if verdicts is not None:
                ok = _tool_verdict(verdicts[i], answer, grading.name, file, rec)
            rows.append({"problem_id": file.stem, "sample_id": i, "answer": answer, "correct": ok, "_file": f_no,
                         "_row": f"{file.name} {rec}"})
            texts.append(text)
    df = pd.DataFrame.from_records(rows)
    df["gen_tokens"] = counter(texts)
    per_file = dict(zip(prompts, counter(list(prompts.values())), strict=True))
    df["prompt_tokens"] = pd.array([per_file.get(f) for f in df.pop("_file")], dtype="Int64")
    grader = (grading.name if verdict_files == 0 else f"answers: {grading.name}; correct: is_corrects"
              + ("" if verdict_files == len(files) else f" ({verdict_files} of {len(files)} files; the grader elsewhere)"))
    df = df.assign(task=task, model=model, params=float(params), method=method_of(temperature),
                   temperature=temperature, grader=grader, token_count=counter.name + " (sample text)",
                   params_source="given")
    return finish(df, label).drop(columns="_row")
