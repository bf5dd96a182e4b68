"""``python -m collect score``: fill reward columns of a sample table with a reward model.

For every part file of the table (and its texts in ``texts/``), each solution is split into steps
(:func:`collect.prompts.split_steps`) and scored with the question (identical question and steps within a
part are scored once and share the scores):

* PRM: ``step_rewards`` = the score after each step, ``reward`` = the score after the last step;
* ORM: ``reward`` = the single outcome score, ``step_rewards`` null.

``reward_model`` and ``reward_params`` record the verifier.  A solution with no steps (an empty or
unreadable generation, which has no answer either) has nothing a verifier can credit: ``reward`` 0 and
null ``step_rewards``, so every row of a scored table has a reward and reward-based strategies apply.
Each part is rewritten atomically once scored (or written to ``--out`` with its texts), so a killed run
loses at most the part in flight and a re-run skips parts already scored by the same reward model.
The reward model's folder and tokenizer (step tag, good/bad tokens) are checked before any scoring.

>>> import tempfile
>>> import scaling
>>> from collect.params import SamplingParams
>>> from collect.sample import SampleConfig, run_sample
>>> from collect.score import ScoreConfig, run_score
>>> tmp = tempfile.TemporaryDirectory()
>>> out = tmp.name
>>> _ = run_sample(SampleConfig(task="arith", model="data/models/arith-neox-113k", out=out,
...                             sampling=SamplingParams(n=2, seed=0), limit=2, progress=False))
>>> _ = run_score(ScoreConfig(out, "data/models/arith-verifier-1.9m", progress=False))
>>> scored = scaling.read_samples(out)
>>> bool(scored.reward.between(0, 1).all()), scored.reward_model.unique().tolist()
(True, ['arith-verifier-1.9m'])
>>> tmp.cleanup()
"""

from __future__ import annotations

import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from scaling import write_samples

from .params import flag
from .store import KEY_COLUMNS, part_files, read_texts, texts_path


@dataclass
class ScoreConfig:
    """Settings of one scoring job (the flags of ``python -m collect score``)."""

    samples: str = field(metadata=flag("table folder (or one part file) written by `sample`", required=True))
    reward_model: str = field(metadata=flag("reward-model folder with reward_config.json", required=True))
    kind: str | None = field(default=None, metadata=flag("default: from reward_config.json",
                                                          choices=["prm", "orm", "likelihood"]))
    backend: str = field(default="hf", metadata=flag("likelihood verifiers: read the scores with hf or "
                                                      "with vllm's prompt log-probabilities",
                                                      choices=["hf", "vllm"]))
    device: str = field(default="cpu", metadata=flag("hf: cpu, cuda or cuda:N"))
    dtype: str | None = field(default=None, metadata=flag("float32, bfloat16 or float16 (default: "
                                                           "float32 on CPU)"))
    batch_size: int = field(default=16, metadata=flag("solutions scored per forward pass", type=int))
    out: str | None = field(default=None, metadata=flag("write scored copies here instead of in place"))
    overwrite: bool = field(default=False, metadata=flag("replace rewards of another reward model",
                                                          action="store_true"))
    progress: bool = field(default=True, metadata={"cli": False})


def _scored_by(df: pd.DataFrame, name: str) -> bool:
    return "reward_model" in df and bool((df["reward_model"] == name).all())


def _plan(parts: list[Path], root: Path, dest_root: Path | None, name: str, overwrite: bool) -> list[tuple]:
    """(part, destination) of every part not yet scored by the reward model ``name``; a destination scored
    by another reward model is an error unless ``overwrite``."""
    plan = []
    for part in parts:
        dest = part if dest_root is None else dest_root / part.relative_to(root)
        if dest.exists():
            df_old = pd.read_parquet(dest)
            if _scored_by(df_old, name):
                continue
            other = df_old["reward_model"].dropna().unique() if "reward_model" in df_old else []
            if len(other) and not overwrite:
                raise ValueError(f"{dest}: already scored by reward model(s) {list(other)}; pass --overwrite "
                                 "to replace those rewards or --out to write a scored copy elsewhere")
        plan.append((part, dest))
    return plan


def _with_texts(df: pd.DataFrame, part: Path) -> pd.DataFrame:
    """The rows' keys with their question and solution text (one per row; a row without its text is an error)."""
    texts = read_texts(part)
    missing_cols = [c for c in KEY_COLUMNS + ["question", "text"] if c not in texts]
    if missing_cols:
        raise ValueError(f"{texts_path(part)}: missing field(s) {missing_cols}")
    texts["problem_id"] = texts["problem_id"].astype(str)
    texts["sample_id"] = texts["sample_id"].astype(int)
    merged = df[KEY_COLUMNS].astype({"problem_id": str, "sample_id": int}).merge(
        texts[KEY_COLUMNS + ["question", "text"]], on=KEY_COLUMNS, how="left", validate="one_to_one")
    lost = merged["text"].isna().to_numpy()
    if lost.any():
        row = merged.loc[lost, KEY_COLUMNS].iloc[0].to_dict()
        raise ValueError(f"{texts_path(part)}: no text for {int(lost.sum())} row(s) of {part}, first {row}")
    return merged


def run_score(config: ScoreConfig, model=None) -> dict:
    """Score every part of ``config.samples`` (a table folder or one part file); see the module docstring.
    ``model``: a reward model already loaded (else ``config.reward_model`` is opened)."""
    from tqdm.auto import tqdm

    from .prompts import split_steps
    from .rewards import load_reward_model

    samples, out, batch_size = config.samples, config.out, config.batch_size
    src = Path(samples)
    if not src.exists():
        raise FileNotFoundError(f"--samples {src} does not exist")
    parts = part_files(src)
    if not parts:
        raise FileNotFoundError(f"{src}: no Parquet part files to score")
    for part in parts:  # texts must exist for every part before any scoring starts
        if not texts_path(part).is_file():
            raise FileNotFoundError(f"{part}: no solution texts (expected {texts_path(part)}); only tables "
                                    "written by `python -m collect sample` can be scored")
    rm = model if model is not None else load_reward_model(config.reward_model, kind=config.kind,
                                                           device=config.device, batch_size=batch_size,
                                                           dtype=config.dtype, backend=config.backend)
    root = src if src.is_dir() else src.parent
    dest_root = Path(out) if out else None
    plan = _plan(parts, root, dest_root, rm.name, config.overwrite)
    summary = {"parts": 0, "rows": 0, "scored": 0, "skipped_parts": len(parts) - len(plan), "seconds": 0.0,
               "reward_model": rm.name, "kind": rm.kind}
    total = 0
    for part, _ in plan:
        import pyarrow.parquet as pq

        total += pq.ParquetFile(part).metadata.num_rows
    t0 = time.perf_counter()
    bar = tqdm(total=total, unit="sol", desc=f"scoring with {rm.name}", disable=not config.progress)
    try:
        for part, dest in plan:
            df = pd.read_parquet(part)
            merged = _with_texts(df, part)
            # identical (question, steps) pairs are scored once: strong policies repeat themselves often
            keys = list(zip(merged["question"], (tuple(split_steps(t)) for t in merged["text"]), strict=True))
            unique = list(dict.fromkeys(k for k in keys if k[1]))
            got: dict = {}
            for b in range(0, len(unique), batch_size):
                chunk = unique[b:b + batch_size]
                got.update(zip(chunk, rm.score([q for q, _ in chunk], [list(s) for _, s in chunk]), strict=True))
            scores: list[list[float]] = [got[k] if k[1] else [] for k in keys]
            bar.update(len(keys))
            df = df.copy()
            df["reward"] = [float(s[-1]) if s else 0.0 for s in scores]  # nothing to credit: 0
            df["step_rewards"] = [list(map(float, s)) if (s and rm.kind == "prm") else None for s in scores]
            df["reward_model"] = rm.name
            df["reward_params"] = float(rm.params)
            if dest != part:
                dest.parent.mkdir(parents=True, exist_ok=True)
                tdest = texts_path(dest)
                tdest.parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(texts_path(part), tdest)
            write_samples(df, dest)
            summary["parts"] += 1
            summary["rows"] += len(df)
            summary["scored"] += len(unique)
    finally:
        bar.close()
    summary["seconds"] = time.perf_counter() - t0
    return summary


__all__ = ["ScoreConfig", "run_score"]
