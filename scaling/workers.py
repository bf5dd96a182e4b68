"""Running :func:`scaling.evaluate`'s per-group work here or in worker processes, with equal results.

The work is a list of calls (:func:`run`), or calls submitted as they are prepared (:class:`Pool`).
Per-problem values are computed per *shard*, a block of whole
problems of one group (:func:`shards`): a sampling group is cut into shards of about :data:`SHARD_CELLS`
units x solution slots, a size that depends on the group only, never on the number of workers; other
groups are one shard.  Each shard draws its Monte-Carlo subsets from its own stream (:func:`shard_seed`),
so ``n_jobs`` changes where a shard is evaluated, not what it computes: results are bit-identical for
any number of workers.  With ``n_jobs != 1`` the calls go, largest first, to a pool of worker processes,
so a single large group keeps every core busy.  Every call runs with one BLAS thread
(``threadpoolctl``): the calls are many small matrix products, where BLAS threads only contend with the
other workers (measured: fitting one success-rate model took 7.6 s with OpenBLAS's default threads on 2
busy cores and 0.28 s with one).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor, wait

import numpy as np
from threadpoolctl import threadpool_limits

from .matrix import SampleMatrix
from .schema import SAMPLING_METHODS

#: Target size of a shard in units x solution slots (125 problems of 1024 solutions, 500 of 256).
SHARD_CELLS = 1 << 17

#: One call: (size, used to start the largest first; function; its arguments).
Call = tuple[float, Callable, tuple]


def shards(m: SampleMatrix) -> list[np.ndarray]:
    """Unit indices of each shard of a group: near-equal contiguous blocks of about :data:`SHARD_CELLS`
    cells for a sampling group (its units are problems), one block for any other group."""
    p, s = m.shape
    if m.key["method"] not in SAMPLING_METHODS or p == 0:
        return [np.arange(p)]
    return np.array_split(np.arange(p), max(1, min(p, -(-p * s // SHARD_CELLS))))


def shard_seed(seed: int, group: int, shard: int, n_shards: int) -> int | list[int]:
    """Monte-Carlo seed of a shard: ``seed + group`` for a group in one shard, else ``[seed + group, shard]``."""
    return seed + group if n_shards == 1 else [seed + group, shard]


def merge_records(parts: Sequence[list[dict]]) -> list[dict]:
    """A group's records (:func:`scaling.strategies.evaluate_matrix`) from those of its shards: per-unit
    arrays concatenated in shard order, capped counts added."""
    if len(parts) == 1:
        return parts[0]
    merged = []
    for recs in zip(*parts, strict=True):
        sizes = [len(r["values"]) for r in recs]
        merged.append({
            "strategy": recs[0]["strategy"], "k": recs[0]["k"],
            "problem_ids": np.concatenate([r["problem_ids"] for r in recs]),
            "values": np.concatenate([r["values"] for r in recs]),
            "flops": np.concatenate([np.broadcast_to(r["flops"], (n,)) for r, n in zip(recs, sizes, strict=True)]),
            "var": None if recs[0]["var"] is None else np.concatenate([r["var"] for r in recs]),
            "n_capped": sum(r["n_capped"] for r in recs),
            "capped": np.concatenate([r["capped"] for r in recs])})
    return merged


def n_workers(n_jobs: int | None, n_calls: int | None = None) -> int:
    """Worker processes: ``n_jobs`` (-1 or None: one per core), at most one per call when that is known."""
    jobs = (os.cpu_count() or 1) if n_jobs in (-1, None) else int(n_jobs)
    return max(1, jobs if n_calls is None else min(jobs, n_calls))


def _one_blas_thread(fn: Callable, *args):
    with threadpool_limits(limits=1, user_api="blas"):
        return fn(*args)


class Pool:
    """Calls made here or in worker processes, results in the order submitted; a context manager.

    With one worker a call runs when :meth:`results` asks for it (in order, in this process); otherwise
    it starts in a worker process as soon as it is submitted, so work submitted early (the first group's
    shards) runs while this process prepares the rest (the next group's matrix).  An error is the one
    the first failing call (in submission order) raised, as in one process."""

    def __init__(self, n_jobs: int | None = 1, progress: str | None = None, n_calls: int | None = None):
        self.jobs = n_workers(n_jobs, n_calls)
        self.executor = ProcessPoolExecutor(max_workers=self.jobs) if self.jobs > 1 else None
        self.calls: list = []
        self.bar = None
        if progress:
            from tqdm.auto import tqdm
            self.bar = tqdm(desc=progress, unit="task")

    def submit(self, fn: Callable, *args) -> None:
        if self.bar is not None:
            self.bar.total = len(self.calls) + 1
            self.bar.refresh()
        if self.executor is None:
            self.calls.append((fn, args))
            return
        future = self.executor.submit(_one_blas_thread, fn, *args)
        if self.bar is not None:
            future.add_done_callback(lambda _: self.bar.update())
        self.calls.append(future)

    def results(self) -> list:
        if self.executor is not None:
            wait(self.calls)
            return [f.result() for f in self.calls]
        out = []
        for fn, args in self.calls:
            out.append(_one_blas_thread(fn, *args))
            if self.bar is not None:
                self.bar.update()
        return out

    def __enter__(self) -> Pool:
        return self

    def __exit__(self, *exc) -> None:
        if self.executor is not None:
            self.executor.shutdown(wait=True, cancel_futures=exc[0] is not None)
        if self.bar is not None:
            self.bar.close()


def run(calls: Sequence[Call], n_jobs: int | None = 1, progress: str | None = None) -> list:
    """``fn(*args)`` of every call, in the order given: in this process (``n_jobs == 1``) or in a
    :class:`Pool` of worker processes, started largest first."""
    order = sorted(range(len(calls)), key=lambda i: -calls[i][0]) if n_workers(n_jobs, len(calls)) > 1 \
        else range(len(calls))
    with Pool(n_jobs, progress, len(calls)) as pool:
        for i in order:
            pool.submit(calls[i][1], *calls[i][2])
        done = pool.results()
    out = [None] * len(calls)
    for i, result in zip(order, done, strict=True):
        out[i] = result
    return out


__all__ = ["SHARD_CELLS", "Call", "shards", "shard_seed", "merge_records", "n_workers", "Pool", "run"]
