"""Growing search trees: the expander (policy + process reward model) and the driver loop.

A search algorithm (:class:`Search`) is written as a generator.  Each time it needs new nodes it
yields a *request*, a list of ``(node_id, k)`` pairs ("make k children of node_id"), and receives, for
each pair, the list of new child nodes, already scored by the reward model.  The driver
(:func:`drive`) advances many searches together and merges their requests into one call of the
expander, so that the policy sees large batches of prefixes (many problems, many runs, many
branches) at once.

The expander is anything with ``expand(requests) -> list[list[Node]]``, where ``requests`` is a list
of ``(tree, node_id, k)``.  :class:`ModelExpander` is the real one: it continues each prefix with the
policy engine until the step delimiter (``Engine.generate(prefixes, SamplingParams(stop=["\\n\\n"], ...))``), with
the step's token budget ``min(step_tokens, max_tokens - path_tokens)`` so that the token cap applies to
the whole path from the root, and scores every new node with the process reward model (the score of
the partial solution ending at that step).  Tests can plug in a deterministic expander instead.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Generator, Sequence
from typing import Any, Protocol

import numpy as np

from ..params import SamplingParams
from .tree import STEP_DELIMITER, Node, Tree, classify_step

Request = list[tuple[int, int]]
SearchGen = Generator[Request, list[list[Node]], None]


class Expander(Protocol):
    def expand(self, requests: list[tuple[Tree, int, int]]) -> list[list[Node]]: ...


class Search:
    """Base class of a tree search over one problem.

    Subclasses implement :meth:`run` (a generator of requests, see the module docstring) and fill
    ``self.outputs`` with the nodes that end the run's solutions, in order (one sample-table row each).
    """

    method: str = ""

    def __init__(self, tree: Tree, budget: int):
        if int(budget) != budget or budget < 1:
            raise ValueError(f"{type(self).__name__}: budget must be a positive integer, got {budget!r}")
        self.tree = tree
        self.budget = int(budget)
        self.outputs: list[Node] = []
        self.stop_reason: str | None = None

    def run(self) -> SearchGen:  # pragma: no cover - abstract
        raise NotImplementedError
        yield []


def drive(searches: Sequence[Search], expander: Expander, *, progress: Any = None) -> None:
    """Run ``searches`` to completion, batching the requests of all live searches into one
    ``expander.expand`` call per round.  ``progress`` (a tqdm bar or None) is advanced by one for every
    search that ends."""
    gens: dict[int, SearchGen] = {}
    pending: dict[int, Request] = {}

    def advance(i: int, value: list[list[Node]] | None) -> None:
        try:
            req = next(gens[i]) if value is None else gens[i].send(value)
        except StopIteration:
            pending.pop(i, None)
            if progress is not None:
                progress.update(1)
            return
        if not req:
            raise RuntimeError(f"{type(searches[i]).__name__} asked to expand no node")
        for node_id, k in req:
            if k < 1:
                raise RuntimeError(f"{type(searches[i]).__name__} asked for {k} children of node {node_id}")
        pending[i] = req

    for i, s in enumerate(searches):
        gens[i] = s.run()
        advance(i, None)
    while pending:
        order = list(pending)
        flat = [(searches[i].tree, node_id, k) for i in order for node_id, k in pending[i]]
        results = expander.expand(flat)
        if len(results) != len(flat):
            raise RuntimeError(f"expander returned {len(results)} results for {len(flat)} requests")
        pos = 0
        for i in order:
            n = len(pending[i])
            chunk = results[pos:pos + n]
            pos += n
            advance(i, chunk)


def _call_seed(seed: int, call: int) -> int:
    """Seed of generate call ``call``: well spread, so that engines deriving per-prompt seeds as
    ``seed + i`` (vLLM) never give two calls overlapping random streams."""
    return int(np.random.SeedSequence([int(seed), int(call)]).generate_state(1)[0] & 0x7FFFFFFF)


def _eos_ids(engine: Any) -> set[int]:
    """End-of-sequence token ids of an engine, from whatever it exposes (empty if none)."""
    for attr in ("eos_ids", "eos_token_ids", "eos_token_id"):
        v = getattr(engine, attr, None)
        if v is not None:
            return {int(x) for x in (v if isinstance(v, (list, tuple, set, frozenset)) else [v])}
    tok = getattr(engine, "tokenizer", None)
    v = getattr(tok, "eos_token_id", None) if tok is not None else None
    if v is not None:
        return {int(x) for x in (v if isinstance(v, (list, tuple, set)) else [v])}
    return set()


class ModelExpander:
    """Expand search nodes with a policy engine and score them with a process reward model.

    Parameters
    ----------
    engine
        A ``collect.engines`` engine (``generate``, ``count_tokens``).
    reward_model
        A ``collect.rewards`` process reward model (``score(questions, step_lists)``).
    sampling
        :class:`~collect.params.SamplingParams` of every step: temperature and top_p (the paper: 1.0, 1.0),
        ``max_tokens`` the token cap of a whole solution (path from the root; 1024 in the paper) and
        ``seed`` the base seed: generate call ``c`` of this expander uses a seed drawn from
        ``SeedSequence([seed, c])`` (None: unseeded).  ``n`` and ``stop`` are set per call.
    step_tokens
        Token cap of one step, 256 in the paper.
    is_final
        Whether a step states the final answer (default ``collect.prompts.has_final_answer``: "answer is",
        ``\\boxed``, ``####``).
    measure_reuse
        Also count, per generate call, the prompt+prefix tokens and how many of them had already been
        processed earlier in the search (a prefix cache could serve them): the parent's prefix and step
        for the first child of a node, the whole prefix for its siblings.  Costs extra tokenization.
    siblings_as_n
        Ask for the k children of a node as ``generate([prefix], n=k)`` (one call per distinct k and
        step budget; the engine prefills the prefix once), rather than as k copies of the prefix with
        ``n=1`` in one call (which relies on the engine's prefix cache).  Default: copies for the vLLM
        engine (one call per round; automatic prefix caching), ``n=k`` for the others.

    Attributes
    ----------
    stats : dict
        ``generate_calls``, ``prefixes`` (prompts sent), ``gen_tokens`` (sum of ``num_tokens`` over all
        completions), ``scored`` (nodes scored), and with ``measure_reuse`` ``prefix_tokens`` and
        ``reusable_tokens``.
    """

    def __init__(self, engine: Any, reward_model: Any, sampling: SamplingParams | None = None, *,
                 step_tokens: int = 256, is_final: Callable[[str], bool] | None = None, measure_reuse: bool = False,
                 siblings_as_n: bool | None = None,
                 on_generate: Callable[[int], None] | None = None):
        sampling = sampling or SamplingParams()
        if sampling.max_tokens < 1 or step_tokens < 1:
            raise ValueError(f"max_tokens and step_tokens must be positive, got {sampling.max_tokens}, {step_tokens}")
        self.engine = engine
        self.reward_model = reward_model
        self.sampling = sampling.replace(n=1, stop=(STEP_DELIMITER,))
        self.max_tokens = int(sampling.max_tokens)
        self.step_tokens = int(step_tokens)
        self.seed = sampling.seed
        if is_final is None:
            from collect.prompts import has_final_answer as is_final
        self.is_final = is_final
        self.measure_reuse = measure_reuse
        if siblings_as_n is None:   # vLLM: one call per round, its prefix cache shares the copies
            siblings_as_n = type(engine).__name__ != "VLLMEngine"
        self.siblings_as_n = bool(siblings_as_n)
        self.on_generate = on_generate
        self.eos_ids = _eos_ids(engine)
        self.stats = {"generate_calls": 0, "prefixes": 0, "gen_tokens": 0, "scored": 0,
                      "prefix_tokens": 0, "reusable_tokens": 0}

    def _is_eos(self, c: Any) -> bool:
        """The completion ended with the policy's end-of-sequence token (not the step delimiter)."""
        if c.finish_reason != "stop":
            return False
        if c.token_ids and self.eos_ids:
            return int(c.token_ids[-1]) in self.eos_ids
        # no token ids to look at: a stop without a stop string is an end of sequence
        return getattr(c, "stop_reason", STEP_DELIMITER) is None

    def _reuse(self, tree: Tree, node_id: int, copies: int, prefix_len: int) -> int:
        """Tokens of ``copies`` requests for children of ``node_id`` that were processed before."""
        node = tree[node_id]
        if node.parent is None:
            first = 0
        else:
            done = tree.prefix(node.parent) + node.text
            first = min(prefix_len, self.engine.count_tokens(done))
        return first + (copies - 1) * prefix_len

    def expand(self, requests: list[tuple[Tree, int, int]]) -> list[list[Node]]:
        out: list[list[Node]] = [[] for _ in requests]
        groups: dict[tuple[int, int], list[int]] = defaultdict(list)   # (step budget, k) -> requests
        prefixes = []
        for r, (tree, node_id, _k) in enumerate(requests):
            node = tree[node_id]
            if node.closed:
                raise ValueError(f"node {node_id} is closed ({node.finish}); it cannot be expanded")
            left = self.max_tokens - node.path_tokens
            if left < 1:
                raise ValueError(f"node {node_id} has used the whole token cap ({node.path_tokens} tokens)")
            groups[(min(self.step_tokens, left), int(_k) if self.siblings_as_n else 0)].append(r)
            prefixes.append(tree.prefix(node_id))
        for key in sorted(groups):
            budget, n = key
            rs = groups[key]
            seed = None if self.seed is None else _call_seed(self.seed, self.stats["generate_calls"])
            params = self.sampling.replace(max_tokens=budget, seed=seed)
            if self.siblings_as_n:
                prompts = [prefixes[r] for r in rs]
                comps = self.engine.generate(prompts, params.replace(n=n))
            else:   # k copies of each prefix, n=1, one call; regroup the copies' completions per request
                ks = [requests[r][2] for r in rs]
                prompts = [prefixes[r] for r, k in zip(rs, ks, strict=True) for _ in range(k)]
                flat = self.engine.generate(prompts, params)
                if len(flat) != len(prompts):
                    raise RuntimeError(f"engine returned {len(flat)} results for {len(prompts)} prompts")
                ends = np.cumsum(ks)
                comps = [[c for cs in flat[e - k:e] for c in cs] for e, k in zip(ends, ks, strict=True)]
            if len(comps) != len(rs):
                raise RuntimeError(f"engine returned {len(comps)} results for {len(rs)} prompts")
            self.stats["generate_calls"] += 1
            self.stats["prefixes"] += len(prompts)
            if self.measure_reuse:
                for r in rs:
                    tree, node_id, k = requests[r]
                    plen = self.engine.count_tokens(prefixes[r])
                    self.stats["prefix_tokens"] += k * plen
                    self.stats["reusable_tokens"] += self._reuse(tree, node_id, k, plen)
            made = 0
            for r, cs in zip(rs, comps, strict=True):
                if len(cs) != requests[r][2]:
                    raise RuntimeError(f"engine returned {len(cs)} completions where {requests[r][2]} were "
                                       "asked for")
                tree, node_id, _k = requests[r]
                parent = tree[node_id]
                for c in cs:
                    text = c.text
                    if text.endswith(STEP_DELIMITER):   # engines exclude the stop string; be safe if one does not
                        text = text[: -len(STEP_DELIMITER)]
                    finish = classify_step(text, eos=self._is_eos(c),
                                           path_tokens=parent.path_tokens + c.num_tokens,
                                           max_tokens=self.max_tokens, is_final=self.is_final)
                    child = tree.add_child(node_id, text=text, tokens=c.num_tokens, logprob=c.logprob,
                                           finish=finish)
                    out[r].append(child)
                    made += int(c.num_tokens)
            self.stats["gen_tokens"] += made
            if self.on_generate is not None:
                self.on_generate(made)
        self._score([n for (tree, _, _), kids in zip(requests, out, strict=True) for n in kids],
                    [tree for (tree, _, _), kids in zip(requests, out, strict=True) for _ in kids])
        return out

    def _score(self, nodes: list[Node], trees: list[Tree]) -> None:
        if not nodes:
            return
        questions = [t.question for t in trees]
        steps = [t.steps(n.node_id) for n, t in zip(nodes, trees, strict=True)]
        scores = self.reward_model.score(questions, steps)
        if len(scores) != len(nodes):
            raise RuntimeError(f"reward model returned {len(scores)} score lists for {len(nodes)} solutions")
        for n, s, st in zip(nodes, scores, steps, strict=True):
            if len(s) < 1:
                raise RuntimeError(f"reward model returned no score for a solution of {len(st)} steps")
            n.score = float(s[-1])
        self.stats["scored"] += len(nodes)


__all__ = ["Expander", "Search", "ModelExpander", "drive", "Request"]
