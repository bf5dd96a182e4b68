"""Regenerate every figure: execute each notebook in notebooks/ with nbclient (figures land in figures/).

    python scripts/make_figures.py                 # all notebooks, full data, 200 bootstrap replicates
    python scripts/make_figures.py --nboot 50 --problems 100 05_tables   # quicker, a subset

Notebooks read their settings from the environment (SCALING_NBOOT, SCALING_PROBLEMS, SCALING_DATA,
SCALING_FIGURES; see notebooks/_common.py).  Executed copies are not written back: the notebooks stay
committed without outputs; pass --keep DIR to save executed copies there.  Exit status 1 if any notebook fails.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = ROOT / "notebooks"


def notebooks(names: list[str] | None = None) -> list[Path]:
    """The notebooks to run, in order; ``names`` are prefixes or stems (e.g. '01' or '05_tables')."""
    all_nb = sorted(NOTEBOOKS.glob("[0-9]*.ipynb"))
    if not names:
        return all_nb
    out = [p for p in all_nb if any(p.stem.startswith(n) for n in names)]
    missing = [n for n in names if not any(p.stem.startswith(n) for p in all_nb)]
    if missing:
        raise SystemExit(f"no notebook matches {missing}; have {[p.stem for p in all_nb]}")
    return out


def execute(path: Path, timeout: int = 1800, keep: Path | None = None):
    """Execute one notebook in its folder; return the executed notebook (raises on a failing cell)."""
    import nbformat
    from nbclient import NotebookClient

    nb = nbformat.read(path, as_version=4)
    NotebookClient(nb, timeout=timeout, kernel_name="python3", resources={"metadata": {"path": str(path.parent)}}).execute()
    if keep is not None:
        keep.mkdir(parents=True, exist_ok=True)
        nbformat.write(nb, keep / path.name)
    return nb


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("names", nargs="*", help="notebook prefixes to run (default: all)")
    p.add_argument("--nboot", type=int, default=None, help="bootstrap replicates (SCALING_NBOOT; default 200)")
    p.add_argument("--problems", type=int, default=None, help="at most this many problems per task (default all)")
    p.add_argument("--data", default=None, help="sample tables folder (default data/samples)")
    p.add_argument("--figures", default=None, help="output folder (default figures/)")
    p.add_argument("--keep", default=None, help="write executed notebooks (with outputs) to this folder")
    args = p.parse_args(argv)
    for var, val in (("SCALING_NBOOT", args.nboot), ("SCALING_PROBLEMS", args.problems),
                     ("SCALING_DATA", args.data and str(Path(args.data).resolve())),
                     ("SCALING_FIGURES", args.figures and str(Path(args.figures).resolve()))):
        if val is not None:
            os.environ[var] = str(val)
    os.environ.setdefault("SCALING_ROOT", str(ROOT))
    failed = []
    from tqdm import tqdm
    todo = notebooks(args.names)
    for path in tqdm(todo, desc="notebooks", unit="nb"):
        t0 = time.time()
        try:
            execute(path, keep=Path(args.keep) if args.keep else None)
            tqdm.write(f"ok   {path.name} ({time.time() - t0:.0f}s)")
        except Exception as exc:  # report every failing notebook, then exit 1
            failed.append(path.name)
            tqdm.write(f"FAIL {path.name} ({time.time() - t0:.0f}s): {str(exc)[-2000:]}")
    out = Path(os.environ.get("SCALING_FIGURES") or ROOT / "figures")
    print(f"figures in {out}: {len(list(out.glob('*.png')))} PNG file(s)")
    if failed:
        print("failed:", ", ".join(failed))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
