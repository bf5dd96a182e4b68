"""The command ``python -m scaling.fit DATA_DIR``: happy path and bad input."""

import subprocess
import sys

import pytest

import scaling
from scaling.fit import main
from scaling.laws import read_laws
from scaling.synthetic import family_table


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    d = tmp_path_factory.mktemp("data")
    t = family_table({"a-1b": 1e9, "b-4b": 4e9, "c-16b": 1.6e10}, n_problems=60, n_samples=16, task="toy")
    scaling.write_samples(t, d / "family.parquet")
    return d


def test_happy_path(data_dir, tmp_path, capsys):
    rc = main([str(data_dir), "--out", str(tmp_path / "fits"), "--figures", str(tmp_path / "figs"),
               "--n-boot", "30", "--quiet"])
    out = capsys.readouterr().out
    assert rc == 0
    assert "== task toy ==" in out and "plug-in" in out and "FLOPs:" in out and "size law" in out
    laws = read_laws(tmp_path / "fits" / "toy.json")
    assert len(laws.curves) == 3 * 4
    assert all(cf.draws is not None for cf in laws.curves.values() if cf.converged)
    assert laws.meta["sources"] and list(laws.meta["sources"].values())[0].__len__() == 64
    pngs = sorted(p.name for p in (tmp_path / "figs").glob("*.png"))
    assert "toy-frontier.png" in pngs and "toy-weighted_majority.png" in pngs
    o = laws.optimal(laws.points.flops.median())
    assert 0 <= o.accuracy <= 1 and o.strategy != "pass_at_k"


def test_empty_dir(tmp_path, capsys):
    (tmp_path / "empty").mkdir()
    assert main([str(tmp_path / "empty")]) == 2
    assert "empty" in capsys.readouterr().err


def test_no_sample_tables(tmp_path, capsys):
    d = tmp_path / "notes"
    d.mkdir()
    (d / "readme.txt").write_text("no tables here")
    assert main([str(d)]) == 2
    assert "no sample tables" in capsys.readouterr().err


def test_missing_dir(tmp_path, capsys):
    assert main([str(tmp_path / "nope")]) == 2
    assert "no such file" in capsys.readouterr().err


def test_one_point_per_curve(tmp_path, capsys):
    d = tmp_path / "one"
    d.mkdir()
    t = family_table({"a-1b": 1e9}, n_problems=20, n_samples=1, task="toy")
    scaling.write_samples(t, d / "t.parquet")
    assert main([str(d), "--out", str(tmp_path / "f"), "--figures", "", "--quiet"]) == 2
    err = capsys.readouterr().err
    assert "no curve can be fitted" in err and "fewer than 3 values of k" in err


def test_bad_table_names_file_and_column(tmp_path, capsys):
    d = tmp_path / "bad"
    d.mkdir()
    t = family_table({"a-1b": 1e9}, n_problems=5, n_samples=4, task="toy").drop(columns=["correct"])
    t.to_parquet(d / "t.parquet")
    assert main([str(d), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert "t.parquet" in err and "correct" in err


def test_module_entry_point_help():
    r = subprocess.run([sys.executable, "-m", "scaling.fit", "--help"], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0 and "DATA_DIR" in r.stdout.upper()


def test_the_name_scaling_fit_means_one_thing():
    """``scaling.fit`` is the command's module (never a function) whatever was imported first, in a fresh
    interpreter; the library does not import it."""
    code = ("import importlib, sys, types\n"
            "first = sys.argv[1]\n"
            "importlib.import_module(first)\n"
            "import scaling\n"
            "assert isinstance(getattr(scaling, 'fit', sys), types.ModuleType), first\n"
            "assert ('scaling.fit' in sys.modules) == (first == 'scaling.fit'), first\n"
            "import scaling.fit as f\n"
            "assert f is scaling.fit is sys.modules['scaling.fit']\n"
            "assert callable(scaling.Evaluation.fit) and callable(scaling.evaluation.fit)\n")
    for first in ("scaling", "scaling.fit", "scaling.laws", "scaling.evaluation"):
        r = subprocess.run([sys.executable, "-c", code, first], capture_output=True, text=True, timeout=120)
        assert r.returncode == 0, r.stderr


def test_by_difficulty(data_dir, tmp_path, capsys):
    rc = main([str(data_dir), "--out", str(tmp_path), "--figures", "", "--n-boot", "20", "--no-extrapolate",
               "--strategies", "majority", "weighted_majority", "--by", "difficulty", "--quiet"])
    out = capsys.readouterr().out
    assert rc == 0 and "per-difficulty allocation" in out and "over one-for-all" in out
    laws = read_laws(tmp_path / "toy-by-difficulty.json")
    assert {cf.key.get("difficulty") for cf in laws.curves.values()} == {"easy", "hard"}
    assert main([str(data_dir), "--out", str(tmp_path), "--figures", "", "--by", "nosuch", "--quiet",
                 "--no-extrapolate", "--n-boot", "5"]) == 2
    assert "nosuch" in capsys.readouterr().err
