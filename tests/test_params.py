"""The collection's vocabulary: SamplingParams and EngineConfig, their checks, and the command-line flags
derived from their fields (sample and search share them)."""

from __future__ import annotations

import argparse
import dataclasses

import pytest

from collect.params import EngineConfig, SamplingParams, add_arguments, from_args


def test_sampling_params_check_their_values():
    p = SamplingParams(n=4, temperature=0.7, top_p=0.9, max_tokens=32, stop=["\n\n"], seed=3)
    assert p.stop == ("\n\n",) and not p.greedy and p.replace(temperature=0).greedy
    assert SamplingParams(stop="x").stop == ("x",) and SamplingParams(stop=None).stop == ()
    for bad, match in [({"n": 0}, "n must"), ({"n": True}, "n must"), ({"temperature": -1}, "temperature"),
                       ({"top_p": 0}, "top_p"), ({"top_p": 1.5}, "top_p"), ({"max_tokens": -1}, "max_tokens"),
                       ({"stop": [""]}, "stop"), ({"seed": 1.5}, "seed")]:
        with pytest.raises(ValueError, match=match):
            SamplingParams(**bad)
    with pytest.raises(ValueError, match="top_p"):
        p.replace(top_p=0)
    with pytest.raises(dataclasses.FrozenInstanceError):
        p.n = 2


def test_engine_config_kwargs_per_backend():
    assert EngineConfig().engine_kwargs() == {"device": "cpu", "dtype": None, "batch_size": 64, "name": None}
    v = EngineConfig(backend="vllm", kv_cache_gib=0.5, kwargs={"max_model_len": 256})
    assert v.rows_per_call == 512
    assert v.engine_kwargs() == {"tensor_parallel_size": 1, "dtype": None, "kv_cache_memory_bytes": 1 << 29,
                                 "name": None, "max_model_len": 256}
    with pytest.raises(ValueError, match="backend"):
        EngineConfig(backend="tgi")


def test_flags_are_derived_from_the_fields():
    p = argparse.ArgumentParser()
    defaults = SamplingParams(n=16, seed=0)
    add_arguments(p, SamplingParams, defaults)
    add_arguments(p, EngineConfig)
    flags = {a.option_strings[0] for a in p._actions if a.option_strings} - {"-h"}
    assert flags == {"--n", "--temperature", "--top-p", "--max-tokens", "--stop", "--seed", "--backend", "--device",
                     "--dtype", "--batch-size", "--tensor-parallel-size", "--threads", "--model-name",
                     "--kv-cache-gib"}
    args = p.parse_args([])
    assert from_args(SamplingParams, args, defaults) == defaults
    assert from_args(EngineConfig, args) == EngineConfig()
    args = p.parse_args(["--n", "4", "--top-p", "0.5", "--stop", "A", "--stop", "B", "--backend", "vllm",
                         "--kv-cache-gib", "2"])
    assert from_args(SamplingParams, args, defaults) == SamplingParams(n=4, top_p=0.5, stop=("A", "B"), seed=0)
    assert from_args(EngineConfig, args) == EngineConfig(backend="vllm", kv_cache_gib=2.0)
    with pytest.raises(SystemExit):
        p.parse_args(["--backend", "tgi"])
    q = argparse.ArgumentParser()
    add_arguments(q, SamplingParams, skip=("n", "stop"))
    assert not any("--n" in a.option_strings or "--stop" in a.option_strings for a in q._actions)
