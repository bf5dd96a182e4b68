"""HFEngine on tiny random GPT-NeoX models: logprobs against a full forward pass, greedy against
``model.generate``, stop strings, top-p, seeds, splitting of n over batches; a CUDA run where available."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")

from helpers_models import build_model  # noqa: E402

from collect.engines import Completion, Engine, load_engine, resolve_model_path  # noqa: E402
from collect.engines.hf import HFEngine  # noqa: E402
from collect.params import SamplingParams  # noqa: E402

pytestmark = pytest.mark.usefixtures("one_thread")   # tiny models: one torch thread (conftest.py)


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    return build_model(tmp_path_factory.mktemp("neox") / "tiny-neox", hidden=32, layers=2, seed=1)


@pytest.fixture(scope="module")
def engine(model_dir):
    return HFEngine(str(model_dir), batch_size=8)


def _full_logprob(engine: HFEngine, prompt: str, token_ids: list[int]) -> float:
    """Sum of log p(token) by one uncached forward pass over prompt + completion."""
    ids = engine.encode_prompt(prompt)
    x = torch.tensor([ids + token_ids])
    with torch.no_grad():
        logits = engine.model(input_ids=x).logits[0].float()
    logp = torch.log_softmax(logits, -1)
    start = len(ids)
    rows = torch.arange(start - 1, start - 1 + len(token_ids))
    return float(logp[rows, torch.tensor(token_ids, dtype=torch.long)].sum())


def test_engine_protocol_and_params(engine, model_dir):
    assert isinstance(engine, Engine)
    assert engine.model_name == "tiny-neox"
    assert engine.params == sum(p.numel() for p in engine.model.parameters()) > 0
    assert engine.count_tokens("abc\n\n") == 5
    assert isinstance(load_engine("hf", str(model_dir)), HFEngine)


def test_logprobs_match_full_forward_with_padding_and_early_stops(engine):
    prompts = ["What is 1+2?", "Hi", "A much longer prompt, to force left padding: 3*4 = ?"]
    out = engine.generate(prompts, SamplingParams(n=5, temperature=1.0, max_tokens=60, seed=3))
    assert [len(o) for o in out] == [5, 5, 5]
    reasons = {c.finish_reason for o in out for c in o}
    assert "stop" in reasons  # EOS is 1 of ~100 tokens: some of 15 rows stop early, exercising row dropping
    for prompt, comps in zip(prompts, out, strict=True):
        for c in comps:
            assert isinstance(c, Completion)
            assert c.num_tokens == len(c.token_ids) <= 60
            if c.finish_reason == "stop":
                assert c.token_ids[-1] in engine.eos_ids
            else:
                assert c.num_tokens == 60
            assert c.logprob == pytest.approx(_full_logprob(engine, prompt, c.token_ids), abs=1e-3)


def test_greedy_matches_model_generate(engine):
    prompts = ["What is 1+2?", "Hello there, friend"]
    out = engine.generate(prompts, SamplingParams(n=2, temperature=0.0, max_tokens=20))
    for prompt, comps in zip(prompts, out, strict=True):
        ids = torch.tensor([engine.encode_prompt(prompt)])
        ref = engine.model.generate(ids, attention_mask=torch.ones_like(ids), do_sample=False, max_new_tokens=20,
                                    pad_token_id=engine.pad_id)[0, ids.shape[1]:].tolist()
        assert comps[0].token_ids == comps[1].token_ids == ref[:len(comps[0].token_ids)]
    # top_p so small that only the most likely token survives: identical to greedy
    tiny = engine.generate(prompts, SamplingParams(n=2, temperature=1.0, top_p=1e-6, max_tokens=20, seed=5))
    assert [[c.token_ids for c in o] for o in tiny] == [[c.token_ids for c in o] for o in out]


def test_stop_strings_cut_text_and_keep_tokens(engine):
    prompt = "Count: 1 2 3"
    free = engine.generate([prompt], SamplingParams(n=1, temperature=0.0, max_tokens=40))[0][0]
    text = engine.tokenizer.decode(free.token_ids, skip_special_tokens=True)
    assert len(text) > 12
    stop = text[8:10]
    cut = engine.generate([prompt], SamplingParams(n=1, temperature=0.0, max_tokens=40, stop=["\x00never", stop]))[0][0]
    first = text.find(stop)
    assert cut.text == text[:first]
    assert cut.finish_reason == "stop" and cut.stop_reason == stop
    assert engine.tokenizer.decode(cut.token_ids) == text[:first + len(stop)]
    assert cut.token_ids == free.token_ids[:len(cut.token_ids)]


def test_seed_reproducible_and_samples_differ(engine):
    a = engine.generate(["Q"], SamplingParams(n=4, max_tokens=15, seed=11))
    b = engine.generate(["Q"], SamplingParams(n=4, max_tokens=15, seed=11))
    c = engine.generate(["Q"], SamplingParams(n=4, max_tokens=15, seed=12))
    ids = lambda out: [x.token_ids for x in out[0]]  # noqa: E731
    assert ids(a) == ids(b)
    assert ids(a) != ids(c)
    assert len({tuple(t) for t in ids(a)}) > 1


def test_n_larger_than_batch_size_and_zero_tokens(model_dir):
    eng = HFEngine(str(model_dir), batch_size=3)
    out = eng.generate(["x", "yy"], SamplingParams(n=7, max_tokens=5, seed=0))
    assert [len(o) for o in out] == [7, 7]
    assert eng.stats["batches"] >= 5
    assert all(c.num_tokens <= 5 for o in out for c in o)
    zero = eng.generate(["x"], SamplingParams(n=2, max_tokens=0))
    assert [c.num_tokens for c in zero[0]] == [0, 0] and zero[0][0].finish_reason == "length"


def test_bad_arguments(engine, tmp_path):
    with pytest.raises(ValueError, match="top_p"):
        engine.generate(["x"], SamplingParams(top_p=0.0))
    with pytest.raises(ValueError, match="n must"):
        engine.generate(["x"], SamplingParams(n=0))
    with pytest.raises(TypeError):
        engine.generate("x")
    with pytest.raises(FileNotFoundError, match="does not exist"):
        resolve_model_path(str(tmp_path / "no" / "such" / "model"))
    (tmp_path / "empty").mkdir()
    with pytest.raises(FileNotFoundError, match="config.json"):
        resolve_model_path(str(tmp_path / "empty"))
    with pytest.raises(ValueError, match="backend"):
        load_engine("tgi", str(tmp_path))


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_hf_engine_on_gpu(model_dir):
    gpu = HFEngine(str(model_dir), device="cuda", dtype="float32", batch_size=16)
    cpu = HFEngine(str(model_dir), device="cpu", batch_size=16)
    out = gpu.generate(["What is 1+2?", "Hi"], SamplingParams(n=4, max_tokens=30, seed=0, stop=["\n\n"]))
    for prompt, comps in zip(["What is 1+2?", "Hi"], out, strict=True):
        for c in comps:
            assert c.logprob == pytest.approx(_full_logprob(cpu, prompt, c.token_ids), abs=2e-3)
    greedy_gpu = gpu.generate(["Hello"], SamplingParams(n=1, temperature=0.0, max_tokens=20))[0][0].token_ids
    greedy_cpu = cpu.generate(["Hello"], SamplingParams(n=1, temperature=0.0, max_tokens=20))[0][0].token_ids
    assert greedy_gpu == greedy_cpu
