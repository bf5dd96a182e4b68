"""The vLLM adapter without vLLM: request building and output conversion on objects shaped like vLLM's
``RequestOutput`` / ``CompletionOutput`` / ``Logprob``; parameter counting from safetensors headers.
vLLM itself runs in test_vllm_real.py (on CPU); the GPU path here only where a GPU exists."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest

from collect.engines.vllm import (
    VLLMEngine,
    convert_output,
    count_params_in_folder,
    request_seeds,
    sampling_kwargs,
)
from collect.params import SamplingParams


@dataclass
class Logprob:                     # vllm.sequence.Logprob
    logprob: float
    rank: int | None = None
    decoded_token: str | None = None


@dataclass
class CompletionOutput:            # vllm.outputs.CompletionOutput
    index: int
    text: str
    token_ids: list[int]
    cumulative_logprob: float | None
    logprobs: list[dict[int, Logprob]] | None
    finish_reason: str | None = None
    stop_reason: int | str | None = None


@dataclass
class RequestOutput:               # vllm.outputs.RequestOutput
    request_id: str
    prompt: str
    prompt_token_ids: list[int]
    outputs: list[CompletionOutput] = field(default_factory=list)
    finished: bool = True


def test_sampling_kwargs_and_seeds():
    kw = sampling_kwargs(SamplingParams(n=8, temperature=0.7, top_p=0.95, max_tokens=256, stop=["\n\n"]), 5)
    assert kw == {"n": 8, "temperature": 0.7, "top_p": 0.95, "max_tokens": 256, "logprobs": 0,
                  "include_stop_str_in_output": False, "seed": 5, "stop": ["\n\n"]}
    assert "seed" not in sampling_kwargs(SamplingParams(max_tokens=10), None)
    assert "stop" not in sampling_kwargs(SamplingParams(max_tokens=10, stop=[]), None)
    assert sampling_kwargs(SamplingParams(logprobs=False), None)["logprobs"] is None
    seeds = request_seeds(4, 8, 100)
    assert seeds == [100, 108, 116, 124]
    children = [s + j for s in seeds for j in range(8)]          # vLLM: sample j of a request gets seed + j
    assert len(set(children)) == 32
    assert request_seeds(3, 8, None) == [None, None, None]


def test_convert_output_orders_and_sums():
    lp = [{5: Logprob(-0.5, 1), 9: Logprob(-2.0, 2)}, {7: Logprob(-1.25, 1)}, {0: Logprob(-0.25, 1)}]
    ro = RequestOutput("0", "Q", [1, 2, 3], outputs=[
        CompletionOutput(1, "b text", [5, 7, 0], None, lp, "stop", None),
        CompletionOutput(0, "a text", [4, 4], -3.5, None, "length", None),
        CompletionOutput(2, "c", [6], -0.1, [{6: Logprob(-0.1)}], "stop", "\n\n"),
    ])
    out = convert_output(ro)
    assert [c.text for c in out] == ["a text", "b text", "c"]
    assert [c.finish_reason for c in out] == ["length", "stop", "stop"]
    assert out[0].logprob == -3.5 and out[1].logprob == pytest.approx(-2.0)
    assert [c.num_tokens for c in out] == [2, 3, 1] and out[1].token_ids == [5, 7, 0]
    assert out[2].stop_reason == "\n\n" and out[1].stop_reason is None


def test_convert_output_rejects_missing_logprobs_and_aborts():
    with pytest.raises(ValueError, match="log-probabilities"):
        convert_output(RequestOutput("0", "Q", [1], [CompletionOutput(0, "x", [1], None, None, "stop")]))
    with pytest.raises(RuntimeError, match="abort"):
        convert_output(RequestOutput("0", "Q", [1], [CompletionOutput(0, "x", [1], -1.0, None, "abort")]))


def test_count_params_from_safetensors(tmp_path):
    pytest.importorskip("transformers")
    from helpers_models import build_model
    from transformers import AutoModelForCausalLM

    folder = build_model(tmp_path / "m")
    model = AutoModelForCausalLM.from_pretrained(folder)
    assert count_params_in_folder(folder) == sum(p.numel() for p in model.parameters())
    with pytest.raises(FileNotFoundError, match="safetensors"):
        count_params_in_folder(tmp_path)


@pytest.mark.no_vllm
def test_engine_needs_vllm(tmp_path):
    with pytest.raises(ImportError, match="vllm"):
        VLLMEngine(str(tmp_path))


@pytest.mark.vllm
def test_sampling_kwargs_accepted_by_vllm():
    from vllm import SamplingParams

    from collect.params import SamplingParams as collect_params

    sp = SamplingParams(**sampling_kwargs(collect_params(n=4, temperature=0.8, top_p=0.9, max_tokens=32,
                                                         stop=["\n\n"]), 1))
    assert sp.n == 4 and sp.logprobs == 0 and sp.stop == ["\n\n"]


@pytest.mark.gpu
@pytest.mark.vllm
def test_vllm_engine_end_to_end(tmp_path):
    torch = pytest.importorskip("torch")
    if not torch.cuda.is_available():
        pytest.skip("vLLM needs a GPU")
    from helpers_models import build_model

    from collect.engines.hf import HFEngine

    folder = build_model(tmp_path / "m", hidden=64, heads=4)
    eng = VLLMEngine(str(folder), gpu_memory_utilization=0.3, max_model_len=512, enforce_eager=True)
    assert eng.params == HFEngine(str(folder)).params
    out = eng.generate(["What is 1+2?", "Hi"], SamplingParams(n=3, max_tokens=20, seed=0, stop=["\n\n"]))
    assert [len(o) for o in out] == [3, 3]
    for comps in out:
        for c in comps:
            assert c.num_tokens == len(c.token_ids) <= 20 and c.logprob <= 0 and "\n\n" not in c.text
    greedy = eng.generate(["Hello"], SamplingParams(n=1, temperature=0.0, max_tokens=16))[0][0]
    hf = HFEngine(str(folder)).generate(["Hello"], SamplingParams(n=1, temperature=0.0, max_tokens=16))[0][0]
    assert greedy.token_ids[:8] == hf.token_ids[:8]
