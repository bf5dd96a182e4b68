"""Sampling with Hugging Face transformers, batched, with the KV cache, on CPU or GPU.

The loop is written here rather than delegated to ``model.generate`` because it needs three things
``generate`` does not give cheaply: the summed log-probability of every sampled token under the raw
model distribution (computed on the fly, never storing per-step logits), stop strings checked per
sequence on the generated text only, and prefilling each prompt once for all of its ``n`` samples
(the prompt's KV cache is computed once and copied to the ``n`` rows, as vLLM does with ``n``).
Finished rows are dropped from the batch so the remaining rows run at full speed.

Sampling at step t: logits z (one row per sequence) -> z / temperature -> keep the smallest set of
tokens whose probability mass reaches ``top_p`` -> sample from the renormalised softmax.
``temperature == 0`` means greedy (argmax).  Log-probabilities are log_softmax(z) (see
:mod:`collect.engines.base`).

>>> from collect.params import SamplingParams
>>> engine = HFEngine("data/models/arith-neox-113k", device="cpu", batch_size=32)
>>> out = engine.generate(["Compute: 12+3-4\\n"], SamplingParams(n=4, max_tokens=32, seed=0, stop=["\\n\\n"]))
>>> len(out), len(out[0]), all(c.num_tokens <= 32 for c in out[0])     # prompts x n completions
(1, 4, True)
"""

from __future__ import annotations

import inspect
from pathlib import Path

from ..params import SamplingParams
from .base import Completion, TokenScores, check_prompts, truncate_at_stop


def _torch_dtype(dtype, device: str):
    import torch

    if dtype is None or dtype == "auto":
        if str(device).startswith("cuda"):
            return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
        return torch.float32
    if isinstance(dtype, str):
        try:
            return {"float32": torch.float32, "fp32": torch.float32, "float16": torch.float16,
                    "fp16": torch.float16, "bfloat16": torch.bfloat16, "bf16": torch.bfloat16}[dtype]
        except KeyError:
            raise ValueError(f"unknown dtype {dtype!r}; use float32, float16 or bfloat16") from None
    return dtype


class HFEngine:
    """A transformers causal LM behind the :class:`~collect.engines.base.Engine` interface.

    Parameters
    ----------
    model_path: a Hugging Face model folder (config, weights, tokenizer).
    device: ``"cpu"``, ``"cuda"`` or ``"cuda:N"``.
    dtype: torch dtype or its name; default float32 on CPU, bfloat16 (or float16) on GPU.
    batch_size: most sequences decoded at once (prompts x samples); ``n`` larger than this is split.
    ignore_eos: keep generating past EOS (for throughput measurements only).
    name: model name recorded in tables; default the folder name.

    Attributes
    ----------
    params: total parameter count (embeddings included, tied weights counted once).
    stats: running counters: prompts, prompt tokens, prefill tokens actually computed, generated
        tokens, decode steps and batches.
    """

    def __init__(self, model_path: str, device: str = "cpu", dtype=None, batch_size: int = 64, *,
                 ignore_eos: bool = False, name: str | None = None, trust_remote_code: bool = False):
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer

        if batch_size < 1:
            raise ValueError(f"batch_size must be positive, got {batch_size}")
        if str(device).startswith("cuda") and not torch.cuda.is_available():
            raise RuntimeError("device 'cuda' requested but torch.cuda.is_available() is False")
        self.device = torch.device(device)
        self.batch_size = int(batch_size)
        self.ignore_eos = ignore_eos
        self.model_path = str(model_path)
        self.model_name = name or Path(str(model_path).rstrip("/")).name
        self.tokenizer = AutoTokenizer.from_pretrained(model_path, trust_remote_code=trust_remote_code)
        tdtype = _torch_dtype(dtype, str(device))
        try:
            model = AutoModelForCausalLM.from_pretrained(model_path, dtype=tdtype,
                                                         trust_remote_code=trust_remote_code)
        except TypeError:  # transformers < 4.56 spells it torch_dtype
            model = AutoModelForCausalLM.from_pretrained(model_path, torch_dtype=tdtype,
                                                         trust_remote_code=trust_remote_code)
        self._attach(model.to(self.device).eval())

    @classmethod
    def from_model(cls, model, tokenizer, *, batch_size: int = 64, name: str = "model",
                   ignore_eos: bool = False) -> HFEngine:
        """An engine around a model already in memory (e.g. while it is being trained), on its device."""
        self = cls.__new__(cls)
        self.device = next(model.parameters()).device
        self.batch_size, self.ignore_eos = int(batch_size), ignore_eos
        self.model_path, self.model_name, self.tokenizer = "", name, tokenizer
        self._attach(model.eval())
        return self

    def _attach(self, model) -> None:
        """Set what generation needs from the model and tokenizer (EOS ids, padding, cache keywords)."""
        self.model = model
        self.params = float(sum(p.numel() for p in self.model.parameters()))
        eos = set()
        gen_eos = getattr(getattr(self.model, "generation_config", None), "eos_token_id", None)
        for e in (gen_eos if isinstance(gen_eos, (list, tuple)) else [gen_eos]):
            if e is not None:
                eos.add(int(e))
        if self.tokenizer.eos_token_id is not None:
            eos.add(int(self.tokenizer.eos_token_id))
        self.eos_ids = eos
        pad = self.tokenizer.pad_token_id
        self.pad_id = int(pad if pad is not None else (min(eos) if eos else 0))
        fwd = inspect.signature(self.model.forward).parameters
        self._cache_kw = "cache" if "cache" in fwd else "past_key_values"
        self._keep_kw = "logits_to_keep" if "logits_to_keep" in fwd else (
            "num_logits_to_keep" if "num_logits_to_keep" in fwd else None)
        self._stop_candidates: dict[tuple[str, ...], set[int]] = {}
        self.stats = {"prompts": 0, "prompt_tokens": 0, "prefill_tokens": 0, "generated_tokens": 0,
                      "decode_steps": 0, "batches": 0}

    # ------------------------------------------------------------------ public
    def count_tokens(self, text: str) -> int:
        """Number of tokens of ``text`` (no special tokens added)."""
        return len(self.tokenizer.encode(text, add_special_tokens=False))

    def encode_prompt(self, prompt: str) -> list[int]:
        return list(self.tokenizer(prompt, add_special_tokens=True)["input_ids"])

    def generate(self, prompts: list[str], params: SamplingParams | None = None) -> list[list[Completion]]:
        """Sample ``params.n`` completions for each prompt; returns one list of ``n`` per prompt, in order."""
        import torch

        check_prompts(prompts)
        params = params or SamplingParams()
        n, temperature, top_p, max_tokens, seed = (params.n, params.temperature, params.top_p, params.max_tokens,
                                                   params.seed)
        stop = list(params.stop)
        encoded = [self.encode_prompt(p) for p in prompts]
        self.stats["prompts"] += len(prompts)
        self.stats["prompt_tokens"] += sum(len(e) for e in encoded)
        results: list[list[Completion | None]] = [[None] * n for _ in prompts]
        if max_tokens == 0:
            return [[Completion("", [], 0.0, "length", 0) for _ in range(n)] for _ in prompts]
        gen = None
        if seed is not None:
            gen = torch.Generator(device=self.device)
            gen.manual_seed(int(seed))
        # work units (prompt index, first sample index, count), packed into batches of <= batch_size rows
        units = []
        for i in range(len(prompts)):
            for start in range(0, n, self.batch_size):
                units.append((i, start, min(self.batch_size, n - start)))
        batch: list[tuple[int, int, int]] = []
        rows = 0
        for unit in units + [None]:
            if unit is None or rows + unit[2] > self.batch_size:
                if batch:
                    outs = self._run_batch([encoded[u[0]] for u in batch], [u[2] for u in batch],
                                           temperature, top_p, max_tokens, gen, stop)
                    k = 0
                    for (i, start, count) in batch:
                        for j in range(count):
                            results[i][start + j] = outs[k]
                            k += 1
                batch, rows = [], 0
            if unit is not None:
                batch.append(unit)
                rows += unit[2]
        return results  # type: ignore[return-value]

    def score_tokens(self, sequences: list[list[int]], next_ids: list[int]) -> list[TokenScores]:
        """Read every sequence with one forward pass (``batch_size`` sequences at a time, longest first):
        the log-probabilities of its own tokens, the best token's at each position, and those of
        ``next_ids`` after its end (:class:`~collect.engines.base.TokenScores`)."""
        import numpy as np
        import torch

        out: list[TokenScores | None] = [None] * len(sequences)
        order = sorted(range(len(sequences)), key=lambda i: -len(sequences[i]))
        nxt = torch.tensor([int(t) for t in next_ids], dtype=torch.long, device=self.device)
        with torch.inference_mode():
            for b in range(0, len(order), self.batch_size):
                idx = order[b:b + self.batch_size]
                width = max(len(sequences[i]) for i in idx)
                ids = torch.full((len(idx), width), self.pad_id, dtype=torch.long)
                attn = torch.zeros((len(idx), width), dtype=torch.long)
                for r, i in enumerate(idx):
                    seq = sequences[i]
                    if not seq:
                        raise ValueError(f"sequences[{i}] is empty")
                    ids[r, :len(seq)] = torch.tensor(seq)
                    attn[r, :len(seq)] = 1
                ids, attn = ids.to(self.device), attn.to(self.device)
                logp = torch.log_softmax(self.model(input_ids=ids, attention_mask=attn).logits.float(), dim=-1)
                top = logp.max(dim=-1).values.cpu().numpy()
                tok = logp[:, :-1].gather(-1, ids[:, 1:, None])[..., 0].cpu().numpy()
                last = torch.tensor([len(sequences[i]) - 1 for i in idx], device=self.device)
                ends = logp[torch.arange(len(idx), device=self.device), last][:, nxt].cpu().numpy()
                for r, i in enumerate(idx):
                    n = len(sequences[i])
                    out[i] = TokenScores(token=tok[r, :n - 1].astype(np.float64), top=top[r, :n].astype(np.float64),
                                         next=ends[r].astype(np.float64))
                self.stats["prefill_tokens"] += int(attn.sum())
        return out  # type: ignore[return-value]

    # ------------------------------------------------------------------ internals
    def _candidates(self, stop: list[str]) -> set[int]:
        """Token ids whose text could complete a stop string (contain a stop string's last character,
        or decode to a replacement character because they carry part of a multi-byte character)."""
        key = tuple(sorted(set(stop)))
        if key not in self._stop_candidates:
            lasts = {s[-1] for s in key}
            vocab = len(self.tokenizer)
            texts = self.tokenizer.batch_decode([[i] for i in range(vocab)], skip_special_tokens=False)
            self._stop_candidates[key] = {i for i, t in enumerate(texts)
                                          if "\ufffd" in t or any(c in t for c in lasts)}
        return self._stop_candidates[key]

    def _forward(self, **kw):
        cache = kw.pop("cache", None)
        if cache is not None:
            kw[self._cache_kw] = cache
        out = self.model(**kw, use_cache=True)
        new_cache = getattr(out, "cache", None)
        if new_cache is None:
            new_cache = out.past_key_values
        return out.logits[:, -1, :], new_cache

    def _run_batch(self, prompt_ids: list[list[int]], counts: list[int], temperature: float, top_p: float,
                   max_tokens: int, gen, stop: list[str]) -> list[Completion]:
        import torch

        dev = self.device
        n_prompts = len(prompt_ids)
        input_ids, attn = self._left_padded(prompt_ids)
        pos = (attn.cumsum(-1) - 1).clamp(min=0)
        self.stats["batches"] += 1
        self.stats["prefill_tokens"] += int(sum(len(p) for p in prompt_ids))
        with torch.inference_mode():
            kw = {"input_ids": input_ids, "attention_mask": attn, "position_ids": pos}
            if self._keep_kw:
                kw[self._keep_kw] = 1
            logits, cache = self._forward(**kw)
            expand = torch.repeat_interleave(torch.arange(n_prompts, device=dev),
                                             torch.tensor(counts, device=dev))
            n_rows = int(expand.numel())
            if n_rows != n_prompts or not torch.equal(expand, torch.arange(n_prompts, device=dev)):
                cache.reorder_cache(expand)
                logits, attn = logits[expand], attn[expand]
            next_pos = attn.sum(-1)                       # position of the next token per row
            cur = torch.arange(n_rows, device=dev)        # current batch row -> original row
            cur_list = list(range(n_rows))
            alive_cur = torch.ones(n_rows, dtype=torch.float64, device=dev)
            acc = torch.zeros(n_rows, dtype=torch.float64, device=dev)
            tokens: list[list[int]] = [[] for _ in range(n_rows)]
            finish: list[str | None] = [None] * n_rows
            stopped: list[str | None] = [None] * n_rows
            eos = set() if self.ignore_eos else self.eos_ids
            cands = self._candidates(stop) if stop else set()
            window = max((len(s) for s in stop), default=0) + 4
            done_in_batch: list[int] = []                 # current-row positions finished, not yet dropped
            for step in range(max_tokens):
                logits = logits.float()
                logp = torch.log_softmax(logits, dim=-1)
                nxt = _sample_next(logits, temperature, top_p, gen)
                lp = logp.gather(1, nxt[:, None]).squeeze(1).double()
                acc.index_add_(0, cur, lp * alive_cur)
                nxt_list = nxt.tolist()
                self.stats["decode_steps"] += 1
                newly = []
                for j, r in enumerate(cur_list):
                    if finish[r] is not None:
                        continue
                    t = nxt_list[j]
                    tokens[r].append(t)
                    if t in eos:
                        finish[r] = "stop"
                    elif t in cands:
                        tail = self.tokenizer.decode(tokens[r][-window:], skip_special_tokens=True)
                        for s in stop:
                            if s in tail:
                                finish[r], stopped[r] = "stop", s
                                break
                    if finish[r] is not None:
                        newly.append(j)
                if newly:
                    done_in_batch.extend(newly)
                    alive_cur[newly] = 0.0
                if len(done_in_batch) == len(cur_list):
                    break
                if step == max_tokens - 1:
                    break
                if done_in_batch and len(done_in_batch) * 4 >= len(cur_list):
                    gone = set(done_in_batch)
                    keep = [j for j in range(len(cur_list)) if j not in gone]
                    keep_t = torch.tensor(keep, device=dev)
                    cache.reorder_cache(keep_t)
                    nxt, attn, next_pos, cur = nxt[keep_t], attn[keep_t], next_pos[keep_t], cur[keep_t]
                    alive_cur = alive_cur[keep_t]
                    cur_list = [cur_list[j] for j in keep]
                    done_in_batch = []
                attn = torch.cat([attn, attn.new_ones((attn.shape[0], 1))], dim=1)
                logits, cache = self._forward(input_ids=nxt[:, None], attention_mask=attn,
                                              position_ids=next_pos[:, None], cache=cache)
                next_pos = next_pos + 1
            logprobs = acc.tolist()
        del cache
        return [self._completion(tokens[r], float(logprobs[r]), finish[r], stopped[r], stop) for r in range(n_rows)]

    def _left_padded(self, prompt_ids: list[list[int]]):
        """(input_ids, attention_mask) of the prompts left-padded to one width, on the device."""
        import torch

        width = max(len(p) for p in prompt_ids)
        if width == 0:
            raise ValueError("empty prompt: the tokenizer produced no tokens and adds no BOS token")
        input_ids = torch.full((len(prompt_ids), width), self.pad_id, dtype=torch.long)
        attn = torch.zeros((len(prompt_ids), width), dtype=torch.long)
        for i, p in enumerate(prompt_ids):
            input_ids[i, width - len(p):] = torch.tensor(p, dtype=torch.long)
            attn[i, width - len(p):] = 1
        return input_ids.to(self.device), attn.to(self.device)

    def _completion(self, tokens: list[int], logprob: float, finish: str | None, stopped: str | None,
                    stop: list[str]) -> Completion:
        """One finished row: its text cut at the first stop string, why it ended, its log-probability."""
        text = self.tokenizer.decode(tokens, skip_special_tokens=True)
        text, found = truncate_at_stop(text, stop)
        self.stats["generated_tokens"] += len(tokens)
        return Completion(text=text, token_ids=tokens, logprob=logprob, finish_reason=finish or (
            "stop" if found else "length"), num_tokens=len(tokens), stop_reason=stopped or found)


def _sample_next(logits, temperature: float, top_p: float, gen):
    """Next token per row: argmax at temperature 0, else a draw from the temperature-scaled distribution
    restricted to its top-p nucleus."""
    import torch

    if temperature == 0:
        return logits.argmax(-1)
    scores = logits / temperature
    if top_p < 1.0:
        srt, idx = torch.sort(scores, descending=True, dim=-1)
        probs = torch.softmax(srt, dim=-1)
        drop = (probs.cumsum(-1) - probs) >= top_p   # mass before this token already enough
        srt = srt.masked_fill(drop, float("-inf"))
        scores = torch.full_like(scores, float("-inf")).scatter(1, idx, srt)
    probs = torch.softmax(scores, dim=-1)
    return torch.multinomial(probs, 1, generator=gen).squeeze(1)
