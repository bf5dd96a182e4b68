"""collect.store: atomic parts with their texts, resume keys, settings checked, leftovers of a killed run."""

from __future__ import annotations

import pandas as pd
import pytest

from collect.store import PartWriter, part_files, read_texts, texts_path
from scaling import read_samples


def _rows(pids, sids, model="m") -> pd.DataFrame:
    return pd.DataFrame({"task": "t", "problem_id": pids, "model": model, "params": 1e6, "method": "sample",
                         "sample_id": sids, "answer": "1", "correct": True, "gen_tokens": 5})


def test_parts_and_texts_are_written_whole_and_read_back(tmp_path):
    w = PartWriter(tmp_path, task="t", model="m", method="sample")
    p1 = w.write(_rows(["a", "a"], [0, 1]), [{"text": "x"}, {"text": "y"}])
    p2 = w.write(_rows(["b"], [0]), [{"text": "z"}])
    assert part_files(tmp_path) == sorted([p1, p2])
    assert texts_path(p1).is_file() and read_texts(p1)["text"].tolist() == ["x", "y"]
    assert len(read_samples(tmp_path)) == 3
    assert w.done_keys() == {("a", 0), ("a", 1), ("b", 0)}
    # another model's writer in the same folder sees none of these keys
    assert PartWriter(tmp_path, task="t", model="other", method="sample").done_keys() == set()


def test_settings_of_a_resumed_run_must_match(tmp_path):
    w = PartWriter(tmp_path, task="t", model="m", method="sample")
    w.check_settings({"temperature": 0.7, "n": 8})
    w.check_settings({"temperature": 0.7, "n": 8})
    with pytest.raises(ValueError, match=r"temperature: existing 0.7 vs requested 1.0"):
        w.check_settings({"temperature": 1.0})


def test_clean_removes_temporary_files_and_orphaned_texts_only(tmp_path):
    w = PartWriter(tmp_path, task="t", model="m", method="sample")
    part = w.write(_rows(["a"], [0]), [{"text": "x"}])
    tmp = tmp_path / f".{w.prefix}-000001-dead.parquet.tmp"
    tmp.write_text("half")
    orphan = tmp_path / "texts" / f"{w.prefix}-000001-deadbeef.jsonl"
    orphan.write_text("{}\n")
    removed = set(w.clean())
    assert removed == {tmp, orphan}
    assert part.is_file() and texts_path(part).is_file()


def test_an_unreadable_part_is_named(tmp_path):
    (tmp_path / "t--m--sample--shard0of1-000000-bad.parquet").write_text("not parquet")
    with pytest.raises(ValueError, match="bad.parquet: cannot be read as Parquet"):
        PartWriter(tmp_path, task="t", model="m", method="sample").done_keys()
