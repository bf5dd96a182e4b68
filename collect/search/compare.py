"""Tree search against sampling at equal compute (the paper's Table 1 / Fig. 4-7 comparison).

For every tree-search point (model, method, strategy, k = budget) of an accuracy curve table
(:func:`scaling.evaluate`), the sampling curve of the same model and strategy is read at the same
FLOPs by linear interpolation in log FLOPs between its two neighbouring k; points outside the
sampling curve's FLOPs range get NaN (no extrapolation).

    python -m collect.search.compare data/samples/arith-sample data/samples/arith-search

>>> import pandas as pd
>>> curves = pd.DataFrame({"task": "t", "model": "m", "method": ["sample", "sample", "rebase"],
...                        "strategy": "majority", "k": [1, 4, 2], "flops": [1e9, 4e9, 2e9],
...                        "accuracy": [0.2, 0.4, 0.5], "ci_low": 0.0, "ci_high": 1.0})
>>> at_equal_flops(curves)[["method", "k", "accuracy", "sample_accuracy", "gain"]].round(3).to_dict("records")
[{'method': 'rebase', 'k': 2, 'accuracy': 0.5, 'sample_accuracy': 0.3, 'gain': 0.2}]
"""

from __future__ import annotations

import argparse
import sys

import numpy as np
import pandas as pd

COLUMNS = ["task", "model", "method", "strategy", "k", "flops", "accuracy", "ci_low", "ci_high",
           "sample_accuracy", "gain", "sample_k_for_flops"]


def at_equal_flops(curves: pd.DataFrame, *, baseline: str = "sample", tolerance: float = 0.02) -> pd.DataFrame:
    """One row per tree-search point: its accuracy, the baseline's accuracy at the same FLOPs
    (interpolated linearly in log FLOPs), their difference ``gain`` and the (fractional) number of
    baseline samples that costs the same (``sample_k_for_flops``, interpolated the same way).

    A point up to ``tolerance`` (relative FLOPs) beyond either end of the baseline curve is compared
    with that end point (a search of budget n typically costs within a few per cent of n samples);
    further out the comparison is NaN."""
    need = {"task", "model", "method", "strategy", "k", "flops", "accuracy"}
    missing = sorted(need - set(curves.columns))
    if missing:
        raise ValueError(f"curve table lacks column(s) {missing} (expected the output of scaling.evaluate)")
    rows = []
    for (task, model, strategy), g in curves.groupby(["task", "model", "strategy"], sort=True):
        base = g[g["method"] == baseline].sort_values("flops")
        lf = np.log(base["flops"].to_numpy(dtype=float))
        for _, r in g[g["method"] != baseline].sort_values(["method", "k"]).iterrows():
            x = np.log(float(r["flops"]))
            slack = np.log1p(tolerance)
            inside = len(lf) > 0 and lf[0] - slack <= x <= lf[-1] + slack
            acc = float(np.interp(x, lf, base["accuracy"].to_numpy(dtype=float))) if inside else np.nan
            kk = float(np.exp(np.interp(x, lf, np.log(base["k"].to_numpy(dtype=float))))) if inside else np.nan
            rows.append({"task": task, "model": model, "method": r["method"], "strategy": strategy,
                         "k": int(r["k"]), "flops": float(r["flops"]), "accuracy": float(r["accuracy"]),
                         "ci_low": r.get("ci_low", np.nan), "ci_high": r.get("ci_high", np.nan),
                         "sample_accuracy": acc, "gain": float(r["accuracy"]) - acc, "sample_k_for_flops": kk})
    return pd.DataFrame(rows, columns=COLUMNS)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m collect.search.compare", description=__doc__.split("\n\n")[0])
    ap.add_argument("paths", nargs="+", help="sample-table files or folders (sampling scored by the PRM, and search)")
    ap.add_argument("--strategies", default="majority,weighted_majority,best_of_n")
    ap.add_argument("--n-boot", type=int, default=1000)
    ap.add_argument("--tolerance", type=float, default=0.02, help="relative FLOPs slack at the curve ends")
    args = ap.parse_args(argv)
    import scaling

    samples = scaling.read_samples(args.paths)
    curves = scaling.evaluate(samples, strategies=args.strategies.split(","), n_boot=args.n_boot, extrapolate=()).curves
    pd.set_option("display.width", 200)
    cols = ["model", "method", "strategy", "k", "flops", "accuracy", "ci_low", "ci_high"]
    print(curves[cols].to_string(index=False, float_format=lambda v: f"{v:.4g}"))
    print("\nat equal FLOPs (sampling interpolated in log FLOPs):")
    print(at_equal_flops(curves, tolerance=args.tolerance).drop(columns=["task"]).to_string(index=False, float_format=lambda v: f"{v:.4g}"))
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
