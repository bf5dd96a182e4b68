"""lm-evaluation-harness ``--log_samples`` files: ``samples_<task>_<date>.jsonl`` (+ ``results_<date>.json``).

What the harness writes (``lm_eval/evaluator.py``, version 0.4): one line per document **and filter**, with
``doc_id``, ``doc``, ``target``, ``arguments`` (the prompt and generation settings of each request),
``resps`` (one list per request: the ``repeats`` responses), ``filtered_resps`` (what the filter kept),
``filter``, the per-document metric values and hashes.  The ``results_<date>.json`` beside it holds the
task's configuration (filters, metrics, generation settings), the model arguments and the model's
parameter count.

What it does not store, and how this reader fills it:

* **per-response correctness** -- only the filtered response is scored.  Each response is graded here:
  with ``grade="task"`` (default) by the task's own rule when it is a simple exact match (the ``regex`` /
  ``remove_whitespace`` / ``lowercase`` / ``uppercase`` filters of the task applied to each response, then
  ``exact_match`` with the metric's options), read from the results file; or by any grader
  ``grade(task, text, reference)``, e.g. ``collect.grading.grade``.  The ``grader`` column says which.
  With the task rule the reader checks itself against the harness: for every filter that keeps the first
  response, its verdict on that response must equal the logged ``exact_match``.
* **token counts** -- counted with a tokenizer: the caller's, else the ``tokenizer.json`` of the local
  model folder the harness loaded (``model_args.pretrained``); refused otherwise.  ``gen_tokens`` counts
  the response text as logged, which ends before the stop sequence (the end-of-text token is not in it).
* **parameter count** -- ``model_num_parameters`` from the results file (the harness's own count), else
  the caller's ``params``.

Rows: one per (document, response); ``sample_id`` is the response's position in ``resps``; ``method`` is
``greedy`` when the request did not sample (``do_sample`` false or temperature 0), else ``sample``.

>>> from scaling.readers import read_lm_eval
>>> df = read_lm_eval("out/model/samples_gsm8k_2025-01-01T00-00-00.000000.jsonl")   # doctest: +SKIP
"""

from __future__ import annotations

import json
import os
import re
import string
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from ..schema import SchemaError
from ._common import (
    Grader,
    Grading,
    TokenizerArg,
    as_grading,
    counter_for,
    fail,
    finish,
    first_json_line,
    iter_jsonl,
    local_folder,
    method_of,
    no_tokens,
    resolve_params,
)

FORMAT = "lm-eval"
_NAME = re.compile(r"^samples_(?P<task>.+)_(?P<date>\d{4}-\d{2}-\d{2}T\d{2}-\d{2}-\d{2}(?:\.\d+)?)\.jsonl$")
#: Filters that choose among a document's responses (skipped when grading each response).
_SELECTION = {"take_first", "take_first_k", "majority_vote"}
#: Filters that transform one response (the only ones a "simple exact match" rule may use).
_PER_RESPONSE = {"regex", "remove_whitespace", "lowercase", "uppercase"}


def matches(path: Path) -> bool:
    """A ``samples_<task>_<date>.jsonl`` file whose first line has ``doc_id`` and ``resps``."""
    first = first_json_line(path) if _NAME.match(path.name) else None
    return first is not None and {"doc_id", "resps", "filtered_resps"} <= set(first)


def is_sidecar(path: Path) -> bool:
    """A ``results_<date>.json`` file (read through its samples file, never on its own)."""
    return re.match(r"^results_\d{4}-\d{2}-\d{2}T[\d\-.]+\.json$", path.name) is not None


def results_file(path: Path) -> Path | None:
    """The ``results_<date>.json`` written with a samples file, when it is beside it."""
    m = _NAME.match(path.name)
    if m is None:
        return None
    p = path.with_name(f"results_{m['date']}.json")
    return p if p.is_file() else None


# --------------------------------------------------------------------------------------------------
# the task's own rule
# --------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class TaskRule:
    """A task's answer rule when it is a simple exact match: per-response filter steps, then
    ``exact_match`` with the metric's options (as ``lm_eval.api.metrics.exact_match_hf_evaluate``)."""

    steps: tuple[tuple[str, dict], ...]
    metric: dict = field(default_factory=dict)

    @property
    def name(self) -> str:
        parts = [s if not kw else f"{s}({', '.join(f'{k}={v!r}' for k, v in kw.items())})" for s, kw in self.steps]
        opts = {k: v for k, v in self.metric.items() if v}
        em = "exact_match" + (f"({', '.join(f'{k}={v!r}' for k, v in opts.items())})" if opts else "")
        return "lm-eval task rule: " + " -> ".join(parts + [em])

    def extract(self, text: str) -> str | None:
        """The filtered answer of one response; None where a regex found nothing (its fallback)."""
        out = text if isinstance(text, str) else ""
        for step, kw in self.steps:
            if step == "regex":
                found = re.findall(kw["regex_pattern"], out)
                if not found:
                    return None
                m = found[kw.get("group_select", 0)]
                if isinstance(m, tuple):
                    m = next((g for g in m if g), None)
                    if m is None:
                        return None
                out = m.strip()
            elif step == "remove_whitespace":
                out = out.strip()
            elif step == "lowercase":
                out = out.lower()
            elif step == "uppercase":
                out = out.upper()
        return out

    def same(self, answer: str, reference: str) -> bool:
        a, r = answer, reference
        for pattern in self.metric.get("regexes_to_ignore") or ():
            a, r = re.sub(pattern, "", a), re.sub(pattern, "", r)
        if self.metric.get("ignore_case"):
            a, r = a.lower(), r.lower()
        if self.metric.get("ignore_punctuation"):
            table = str.maketrans("", "", string.punctuation)
            a, r = a.translate(table), r.translate(table)
        if self.metric.get("ignore_numbers"):
            table = str.maketrans("", "", string.digits)
            a, r = a.translate(table), r.translate(table)
        return a == r

    def __call__(self, task: str, text: str, reference: str) -> tuple[str | None, bool]:
        answer = self.extract(text)
        return answer, answer is not None and self.same(answer, reference)


def _pipelines(config: dict) -> dict[str, list[dict]]:
    filters = config.get("filter_list")
    if not filters:
        return {"none": [{"function": "take_first"}]}
    return {f.get("name", str(i)): list(f.get("filter", [])) for i, f in enumerate(filters)}


def task_rule(config: dict, file: Path, answer_filter: str | None = None) -> TaskRule:
    """The task's rule from its configuration (``results_<date>.json``), or an error saying why it is not a
    simple exact match."""
    pipes = _pipelines(config)
    if answer_filter is not None:
        if answer_filter not in pipes:
            raise fail(file, f"answer_filter {answer_filter!r}: the task has filters {sorted(pipes)}")
        pipes = {answer_filter: pipes[answer_filter]}
    rules = {}
    for name, steps in pipes.items():
        per = []
        for step in steps:
            fn = step.get("function")
            if fn in _SELECTION:
                continue
            if fn not in _PER_RESPONSE:
                raise fail(file, f"filter {name!r} uses {fn!r}, not a simple exact-match rule; pass grade= "
                                 "(a function grade(task, text, reference), e.g. collect.grading.grade)")
            kw = {k: v for k, v in step.items() if k != "function"}
            if fn == "regex":
                kw.setdefault("regex_pattern", r"#### (\-?[0-9\.\,]+)")    # the harness's default pattern
            per.append((fn, kw))
        rules[name] = tuple(per)
    if len({json.dumps(r, sort_keys=True) for r in rules.values()}) > 1:
        raise fail(file, f"the task's filters extract answers differently ({sorted(rules)}); name one with "
                         "answer_filter= or pass grade=")
    metrics = [m for m in config.get("metric_list") or [] if m.get("metric") == "exact_match"]
    if not metrics:
        names = [m.get("metric") for m in config.get("metric_list") or []]
        raise fail(file, f"the task is scored by {names}, not exact_match; pass grade= (a function "
                         "grade(task, text, reference), e.g. collect.grading.grade)")
    opts = {k: metrics[0][k] for k in ("regexes_to_ignore", "ignore_case", "ignore_punctuation", "ignore_numbers")
            if k in metrics[0]}
    return TaskRule(next(iter(rules.values())), opts)


# --------------------------------------------------------------------------------------------------
# the reader
# --------------------------------------------------------------------------------------------------

def _request(line: dict, file: Path, rec: int) -> tuple[str | None, dict]:
    """The prompt and generation settings of a line's (single) request."""
    args = line.get("arguments")
    if isinstance(args, dict):            # 0.4.5+: {"gen_args_0": {"arg_0": prompt, "arg_1": settings}}
        reqs = [[a.get("arg_0"), a.get("arg_1")] for a in args.values()]
    elif isinstance(args, list):          # earlier: [[prompt, settings], ...]
        reqs = [list(a) + [None] * (2 - len(a)) for a in args]
    else:
        return None, {}
    if len(reqs) != 1:
        raise fail(file, f"{len(reqs)} requests per document; only single-request generation tasks "
                         "(output_type generate_until) carry solutions", rec, "arguments")
    prompt, settings = reqs[0][0], reqs[0][1]
    return (prompt if isinstance(prompt, str) else None), (settings if isinstance(settings, dict) else {})


def _temperature(settings: dict, backend: str | None, folder: Path | None, file: Path, rec: str) -> float:
    """The sampling temperature of a request: 0 for greedy decoding (``do_sample`` false, or temperature 0 or
    absent -- the harness's HF default), else the temperature given.  With ``do_sample`` unset and a positive
    temperature on the HF backend, transformers samples only if the model's ``generation_config.json`` says
    ``do_sample: true``: read from the local model folder, refused without one."""
    temp = settings.get("temperature")
    do_sample = settings.get("do_sample")
    if do_sample is False or temp is None or float(temp) == 0.0:
        return 0.0
    if do_sample is None and backend == "hf":
        config = folder / "generation_config.json" if folder is not None else None
        if config is None:
            raise fail(file, f"temperature {temp} without do_sample: the model's generation_config decides whether "
                             "transformers sampled, and the model is not a local folder; pass temperature= (0 for "
                             "greedy)", rec, "arguments")
        if not (config.is_file() and json.loads(config.read_text()).get("do_sample")):
            return 0.0
    return float(temp)


def _read_lines(file: Path) -> list[dict]:
    lines = []
    for no, obj in iter_jsonl(file):
        obj["_line"] = no
        lines.append(obj)
    if not lines:
        raise fail(file, "holds no samples")
    return lines


def read_lm_eval(path: str | os.PathLike, *, task: str | None = None, model: str | None = None,
                 params: float | dict | None = None, tokenizer: TokenizerArg = None,
                 grade: Grader | str | None = "task", answer_filter: str | None = None,
                 problem_id: str | None = None, difficulty: str | None = None,
                 temperature: float | None = None) -> pd.DataFrame:
    """Read one lm-evaluation-harness ``samples_<task>_<date>.jsonl`` file into a validated sample table.

    Parameters
    ----------
    path : the samples file; its ``results_<date>.json`` is read from the same folder when present.
    task : task name in the table (default: the harness's task name, from the file name).
    model : model name (default: the last part of ``model_args.pretrained``, else the logged model name).
    params : parameter count (default: ``model_num_parameters`` from the results file).
    tokenizer : counts ``gen_tokens`` / ``prompt_tokens`` (default: the local model folder's tokenizer.json).
    grade : ``"task"`` (the task's own exact-match rule), or ``grade(task, text, reference) -> (answer,
        correct)`` (e.g. ``collect.grading.grade``), or ``"MODULE:FUNCTION"``.
    answer_filter : with ``grade="task"``, the filter whose answer extraction to use when filters differ.
    problem_id, difficulty : fields of ``doc`` to take the problem id / difficulty from (default: ``doc_id``,
        no difficulty).
    temperature : overrides the temperature of the logged generation settings.

    Raises
    ------
    SchemaError naming the file, the line and the field it cannot read, or what to pass.
    """
    file = Path(path)
    lines = _read_lines(file)
    side = results_file(file)
    meta: dict[str, Any] = json.loads(side.read_text()) if side is not None else {}
    m = _NAME.match(file.name)
    tool_task = m["task"] if m else None
    config = (meta.get("configs") or {}).get(tool_task, {}) if tool_task else {}
    if config.get("output_type") not in (None, "generate_until"):
        raise fail(file, f"output_type {config.get('output_type')!r} scores likelihoods; only generate_until "
                         "tasks log generated solutions")
    run = meta.get("config") or {}
    model_args = run.get("model_args") or {}
    if isinstance(model_args, str):      # "pretrained=path,dtype=float32" in older versions
        model_args = dict(kv.split("=", 1) for kv in model_args.split(",") if "=" in kv)
    pretrained = model_args.get("pretrained") if isinstance(model_args, dict) else None
    folder = local_folder(pretrained)
    task = task or tool_task
    if not task:
        raise fail(file, "the file name does not give the task (samples_<task>_<date>.jsonl); pass task=")
    model = model or (Path(str(pretrained).rstrip("/")).name if pretrained else None) or meta.get("model_name")
    if not model:
        raise fail(file, f"no model name ({'no results file beside it' if side is None else 'none logged'}); "
                         "pass model=")
    n_params, params_source = resolve_params(file, params, model, run.get("model_num_parameters"),
                                             "lm-eval model_num_parameters", folder)

    rule, grading = _grading_for(grade, file, side, config, tool_task, answer_filter)

    counter = counter_for(tokenizer, model, folder)
    if counter is None:
        raise no_tokens(file, "lm-eval logs hold no token counts and the model is not a local folder with a "
                              "tokenizer.json")

    docs = _docs_by_id(lines, file)

    backend = run.get("model")
    rows = _response_rows(docs, file, problem_id, difficulty, temperature, backend, folder)

    graded = [grading(task, t, ref) for t, ref in zip(rows["text"], rows["target"], strict=True)]
    if rule is not None:
        _check_against_logged(file, docs, rule, config)
    distinct = list(dict.fromkeys(p for p in rows["prompt"] if p is not None))
    n_prompt = dict(zip(distinct, counter(distinct), strict=True))
    prompt_tokens = pd.array([n_prompt.get(p) for p in rows["prompt"]], dtype="Int64")
    df = pd.DataFrame({
        "task": task, "problem_id": rows["problem_id"], "model": model, "params": n_params,
        "method": [method_of(t) for t in rows["temperature"]], "sample_id": rows["sample_id"],
        "answer": [a for a, _ in graded], "correct": [c for _, c in graded],
        "gen_tokens": counter(rows["text"]), "prompt_tokens": prompt_tokens,
        "temperature": rows["temperature"], "difficulty": rows["difficulty"],
        "grader": grading.name, "token_count": counter.name + " (response text as logged)",
        "params_source": params_source, "_row": rows["_line"],
    })
    return finish(df, file).drop(columns="_row")


def _grading_for(grade, file: Path, side: Path | None, config: dict, tool_task: str | None,
                 answer_filter: str | None) -> tuple[TaskRule | None, Grading]:
    """The task's own rule (``grade="task"``, from the results file's configuration) or the caller's grader."""
    if isinstance(grade, str) and grade == "task":
        if side is None:
            raise fail(file, "grade='task' needs the task's configuration from results_<date>.json, which is not "
                             "beside it; pass grade= (e.g. collect.grading.grade)")
        if not config:
            raise fail(side, f"no configuration for task {tool_task!r}")
        rule = task_rule(config, side, answer_filter)
        grading = Grading(rule, rule.name)
    else:
        rule = None
        grading = as_grading(grade, file, "lm-eval logs do not store per-response correctness (pass grade='task' "
                                          "for the task's own rule)")
    return rule, grading


def _docs_by_id(lines: list[dict], file: Path) -> dict[Any, dict]:
    """The lines of each ``doc_id`` (a document logged once per filter; its responses must agree)."""
    docs: dict[Any, dict] = {}
    for line in lines:
        rec = f"line {line['_line']}"
        for key in ("doc_id", "resps"):
            if key not in line:
                raise fail(file, "missing", rec, key)
        seen = docs.get(line["doc_id"])
        if seen is None:
            docs[line["doc_id"]] = {"first": line, "lines": [line]}
            continue
        if line["resps"] != seen["first"]["resps"]:
            raise fail(file, f"responses differ from line {seen['first']['_line']} of the same doc_id", rec, "resps")
        seen["lines"].append(line)
    return docs


def _response_rows(docs: dict, file: Path, problem_id: str | None, difficulty: str | None,
                   temperature: float | None, backend, folder) -> dict[str, list]:
    """One entry per logged response: problem, sample index, text, reference, prompt, temperature."""
    rows: dict[str, list] = {c: [] for c in ("problem_id", "sample_id", "text", "target", "prompt", "temperature",
                                              "difficulty", "_line")}
    for doc_id, entry in docs.items():
        line = entry["first"]
        rec = f"line {line['_line']}"
        resps = line["resps"]
        if not isinstance(resps, list) or len(resps) != 1 or not isinstance(resps[0], list):
            raise fail(file, "expected one list of responses (a single generation request per document)", rec, "resps")
        target = line.get("target")
        if isinstance(target, (list, dict)) or target is None:
            raise fail(file, f"expected one reference answer, got {type(target).__name__}", rec, "target")
        doc = line.get("doc") if isinstance(line.get("doc"), dict) else {}
        if problem_id is not None and problem_id not in doc:
            raise fail(file, f"missing (doc has {sorted(doc)})", rec, f"doc.{problem_id}")
        if difficulty is not None and difficulty not in doc:
            raise fail(file, f"missing (doc has {sorted(doc)})", rec, f"doc.{difficulty}")
        prompt, settings = _request(line, file, rec)
        temp = float(temperature) if temperature is not None else _temperature(settings, backend, folder, file, rec)
        pid = str(doc[problem_id]) if problem_id is not None else str(doc_id)
        for i, text in enumerate(resps[0]):
            if not isinstance(text, str):
                raise fail(file, f"response {i} is {type(text).__name__}, not text", rec, "resps")
            rows["problem_id"].append(pid)
            rows["sample_id"].append(i)
            rows["text"].append(text)
            rows["target"].append(str(target))
            rows["prompt"].append(prompt)
            rows["temperature"].append(temp)
            rows["difficulty"].append(None if difficulty is None else str(doc[difficulty]))
            rows["_line"].append(line["_line"])
    return rows


def _check_against_logged(file: Path, docs: dict, rule: TaskRule, config: dict) -> None:
    """The task rule, applied to the first response, must give the harness's logged ``exact_match`` for every
    filter that keeps the first response (its last step is ``take_first`` and no voting before it)."""
    pipes = _pipelines(config)
    firsts = [name for name, steps in pipes.items()
              if steps and steps[-1].get("function") == "take_first"
              and not any(s.get("function") in ("majority_vote", "take_first_k") for s in steps)]
    for entry in docs.values():
        for line in entry["lines"]:
            if line.get("filter") not in firsts or "exact_match" not in line:
                continue
            text = line["resps"][0][0]
            ours = rule("", text, str(line.get("target")))[1]
            if bool(ours) != bool(line["exact_match"]):
                raise SchemaError(f"{file}: record line {line['_line']}: field 'exact_match': the task rule read from "
                                  f"the results file ({rule.name}) gives {ours} on the first response, the harness "
                                  f"logged {line['exact_match']}; pass grade= to grade with another function")
