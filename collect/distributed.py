"""Scaling a sampling run out: deterministic shards and Ray.

Shards.  ``--shard i/k`` keeps the problems whose stable hash (:func:`collect.sample.shard_of`) falls in
bucket i of k, so k processes -- Slurm array tasks, machines sharing a filesystem, GPUs of one node --
fill one table folder without coordination; each writes its own part files (names carry the shard).

Ray.  ``--ray`` runs the same shards on a Ray cluster (``ray.init(address="auto")`` when ``RAY_ADDRESS``
is set, else a local instance): one engine actor per worker -- one per GPU for the vLLM/cuda paths --
loads the model once and processes shards handed out by an actor pool; every shard is written by the
same atomic part writer, so a killed cluster run resumes like a local one.

>>> from collect.distributed import run_ray
>>> run_ray(config, workers=4)                                 # doctest: +SKIP
"""

from __future__ import annotations

import os
from dataclasses import replace

from .sample import SampleConfig, plan, run_sample


class _Worker:
    """Holds one engine and runs shards with it (the body of the Ray actor)."""

    def __init__(self, config: SampleConfig, name: str):
        from .sample import open_engine

        self.config = config
        p = plan(config, model_name=name)
        self.engine = open_engine(config, p.model_path, name=name)

    def run(self, shard: tuple[int, int]) -> dict:
        cfg = replace(self.config, shard=shard, progress=False)
        out = run_sample(cfg, engine=self.engine)
        out["shard"] = f"{shard[0]}/{shard[1]}"
        return out


def worker_resources(config: SampleConfig) -> dict:
    """Ray resources of one engine actor: GPUs for vLLM (tensor-parallel size) or a cuda device."""
    if config.engine.backend == "vllm":
        return {"num_gpus": config.engine.tensor_parallel_size, "num_cpus": 1}
    if str(config.engine.device).startswith("cuda"):
        return {"num_gpus": 1, "num_cpus": 1}
    return {"num_cpus": 1}


def run_ray(config: SampleConfig, workers: int = 2, shards: int | None = None, *,
            ray_init: dict | None = None) -> list[dict]:
    """Run ``shards`` shards (default: one per worker) of ``config`` on ``workers`` Ray actors.

    Everything that can fail is checked on the driver first (task, model path, settings).  Returns the
    per-shard summaries.
    """
    import ray
    from tqdm.auto import tqdm

    if config.shard not in ((0, 1), None):
        raise ValueError("--ray splits the work itself; do not combine it with --shard")
    if workers < 1:
        raise ValueError(f"workers must be positive, got {workers}")
    k = shards or workers
    p = plan(replace(config, shard=(0, 1)))          # validates before any cluster time is spent
    name = p.writer.model
    p.writer.check_settings(p.config.settings(p.stop))
    started = False
    if not ray.is_initialized():
        kw = dict(ray_init or {})
        if os.environ.get("RAY_ADDRESS") and "address" not in kw:
            kw["address"] = "auto"
        kw.setdefault("include_dashboard", False)
        kw.setdefault("log_to_driver", True)
        ray.init(**kw)
        started = True
    try:
        actor = ray.remote(**worker_resources(config))(_Worker)
        # worker actors write into the same folder; they must see the driver's working directory
        pool = ray.util.ActorPool([actor.remote(config, name) for _ in range(min(workers, k))])
        results = []
        bar = tqdm(total=k, unit="shard", desc=f"ray {name}", disable=not config.progress)
        for res in pool.map_unordered(lambda a, s: a.run.remote(s), [(i, k) for i in range(k)]):
            results.append(res)
            bar.update(1)
            bar.set_postfix(rows=sum(r["rows"] for r in results))
        bar.close()
    finally:
        if started:
            ray.shutdown()
    return sorted(results, key=lambda r: int(r["shard"].split("/")[0]))


__all__ = ["run_ray", "worker_resources"]
