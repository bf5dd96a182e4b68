"""Every notebook in notebooks/ runs top to bottom on the shipped data (nbclient), quickly.

Speed: the notebooks read SCALING_NBOOT (bootstrap replicates) and SCALING_PROBLEMS (problems per task,
a stratified subsample shared by all models) from the environment; here they are small, and figures go
to a temporary folder so the committed figures/ (made from all the data) are not overwritten.
"""

import json
import re
import sys
import time
from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9]*.ipynb"))
FAST_ENV = {"SCALING_NBOOT": "10", "SCALING_PROBLEMS": "40"}


def _common():
    """notebooks/_common.py, the notebooks' own plumbing (not part of the scaling library)."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("_common", ROOT / "notebooks" / "_common.py")
    mod = importlib.util.module_from_spec(spec)
    sys.modules["_common"] = mod      # dataclasses look their module up while it executes
    spec.loader.exec_module(mod)
    return mod


def test_config_reads_environment(tmp_path, monkeypatch):
    common = _common()
    monkeypatch.setenv("SCALING_NBOOT", "7")
    monkeypatch.setenv("SCALING_PROBLEMS", "11")
    monkeypatch.setenv("SCALING_FIGURES", str(tmp_path / "figs"))
    monkeypatch.delenv("SCALING_ROOT", raising=False)
    cfg = common.config(start=ROOT / "notebooks")
    assert cfg.n_boot == 7 and cfg.max_problems == 11 and cfg.figures.is_dir() and cfg.root == ROOT
    assert cfg.data == ROOT / "data" / "samples"
    monkeypatch.delenv("SCALING_PROBLEMS")
    assert common.config().max_problems is None


def test_notebooks_use_the_one_pipeline():
    """No notebook assembles evaluation tables by hand or reaches for library plumbing that moved out."""
    for path in NOTEBOOKS:
        code = "".join("".join(c["source"]) for c in json.loads(path.read_text())["cells"] if c["cell_type"] == "code")
        for old in ("per_problem=True", "scaling.fit(", "scaling.limits(", "F.config(", "F.save("):
            assert old not in code, f"{path.name} still uses {old}"


def test_there_is_a_notebook_per_figure_family():
    stems = [p.stem for p in NOTEBOOKS]
    for prefix in ("01_", "02_", "03_", "04_", "05_", "06_"):
        assert any(s.startswith(prefix) for s in stems), f"no notebook {prefix}*"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_committed_without_outputs(path):
    nb = json.loads(path.read_text())
    for i, cell in enumerate(nb["cells"]):
        if cell["cell_type"] == "code":
            assert not cell.get("outputs") and cell.get("execution_count") is None, f"{path.name} cell {i} has outputs"
    first = "".join(nb["cells"][0]["source"])
    last = "".join(nb["cells"][-2]["source"]) + "".join(nb["cells"][-1]["source"])
    assert nb["cells"][0]["cell_type"] == "markdown" and "Data" in first, "must open with what it uses"
    assert "paper" in last.lower(), "must close with the comparison with the paper"


def _text(nb) -> str:
    out = []
    for c in nb.cells:
        for o in c.get("outputs", []):
            out.append(o.get("text", "") or o.get("data", {}).get("text/plain", ""))
    return "\n".join(out)


#: What each notebook must produce on the shipped data: the figures it writes, and lines of its printed
#: output (regular expressions) that carry its result.
PRODUCES = {
    "01_": (["fig1_compute_optimal_size.png"],
            [r"best configuration per budget decade",
             r"size law \(weighted_majority, sample\): log10 C = -?\d+\.\d+ log10 N [-+ ]*\d+\.\d+",
             r"saturation: accuracy vs the plug-in voting limit"]),
    "02_": (["fig13_strategies_one_model.png", "fig4_5_tree_search_across_sizes.png", "fig6_7_per_model.png"],
            [r"models with tree search: \['arith-neox-113k', 'arith-neox-163k'\]",
             r"== rebase vs sampling at equal compute \(\d+ of \d+ points",
             r"== mcts vs sampling at equal compute",
             r"REBASE n=\d+ at [\d.e+]+ FLOPs: \d+\.\d%"]),
    "03_": (["fig8_difficulty_arith.png", "fig8_difficulty_arith-sub100.png", "fig8_difficulty_math100.png"],
            [r"arith: weighted_majority; problems per bin: \{'hard': \d+, 'easy': \d+\}",
             r"== arith: test error \(%\) at the smallest and the largest k"]),
    "04_": (["fig9_12_voting_arith.png", "fig9_12_voting_arith-sub100.png", "fig9_12_voting_math100.png"],
            [r"arith limits:", r"math100 limits:", r"median_margin"]),
    "05_": ([], [r"Paper, Table 4, MATH500", r"== Table 4 layout, arith \(accuracy %"]),
    "06_": (["06_recommendation_arith.png"],
            [r"Evaluation: \d+ \(configuration, k\) points of \d+ configurations",
             r"arith-neox-113k / sample / majority +40 +1-16"]),
}


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_executes(path, tmp_path, monkeypatch):
    figs = tmp_path / "figures"
    for k, v in {**FAST_ENV, "SCALING_FIGURES": str(figs), "SCALING_ROOT": str(ROOT)}.items():
        monkeypatch.setenv(k, v)
    nb = nbformat.read(path, as_version=4)
    t0 = time.time()
    nbclient.NotebookClient(nb, timeout=300, kernel_name="python3",
                            resources={"metadata": {"path": str(path.parent)}}).execute()
    took = time.time() - t0
    text = _text(nb)
    pngs = sorted(p.name for p in figs.glob("*.png"))
    figures, lines = PRODUCES[path.stem[:3]]
    assert pngs == sorted(figures), f"{path.name}: wrote {pngs}, expected {sorted(figures)}"
    for p in pngs:
        assert (figs / p).stat().st_size > 10_000, f"{p} looks empty"
    # the notebook ran on the small settings (it prints what it read) and printed its results
    assert (f"bootstrap replicates: {FAST_ENV['SCALING_NBOOT']}; problems per task: "
            f"{FAST_ENV['SCALING_PROBLEMS']}") in text, f"{path.name}: did not run on the test's settings"
    for line in lines:
        assert re.search(line, text), f"{path.name}: no output matching {line!r}"
    assert "Traceback" not in text and "SKIPPED" not in text
    print(f"{path.name}: {took:.1f}s, figures {pngs}")
