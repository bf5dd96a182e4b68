"""The likelihood verifier (collect.rewards.likelihood): scores against a hand computation of the min-p formula,
prefix consistency and batching, the loader's dispatch and errors, and a small trained verifier that
really tells a slip from a correct step."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")

from helpers_models import build_model  # noqa: E402

from collect.rewards import LikelihoodVerifier, RewardModel, load_reward_model, write_reward_config  # noqa: E402

pytestmark = pytest.mark.usefixtures("one_thread")

Q = "Compute: 12+3-4"
S = ["12+3=15", "15-4=11", "The answer is 11"]


@pytest.fixture(scope="module")
def verifier_dir(tmp_path_factory):
    out = build_model(tmp_path_factory.mktemp("lv") / "tiny-verifier", seed=3)
    write_reward_config(out, min_p=0.1)
    return out


def _by_hand(rm, question, steps, min_p):
    """The module docstring's formula, one token at a time on the whole text."""
    tok = rm.tokenizer
    head = tok(question + "\n")["input_ids"]
    pieces = [tok(s)["input_ids"] for s in steps]
    sep = tok("\n\n", add_special_tokens=False)["input_ids"]
    ids, owner = list(head), [-1] * len(head)
    for k, p in enumerate(pieces):
        ids += p
        owner += [k] * len(p)
        if k + 1 < len(pieces):
            ids += sep
            owner += [k] * len(sep)
    with torch.no_grad():
        logp = torch.log_softmax(rm.engine.model(input_ids=torch.tensor([ids])).logits[0].double(), -1)
    step = [0.0] * len(steps)
    for t in range(1, len(ids)):
        if owner[t] >= 0:
            step[owner[t]] += min(0.0, float(logp[t - 1, ids[t]] - logp[t - 1].max()) - math.log(min_p))
    end = max(float(logp[-1, sep[0]]), float(logp[-1, tok.eos_token_id])) - float(logp[-1].max())
    step[-1] += min(0.0, end - math.log(min_p))
    return list(np.exp(np.cumsum(step)))


def test_scores_match_the_formula_prefixes_and_batching(verifier_dir):
    rm = load_reward_model(str(verifier_dir), batch_size=2)
    assert isinstance(rm, LikelihoodVerifier) and isinstance(rm, RewardModel)
    assert rm.kind == "prm" and rm.name == "tiny-verifier" and rm.config.min_p == 0.1
    out = rm.score([Q, Q, "Compute: 20-1"], [S, S[:2], ["20-1=19", "The answer is 19"]])
    assert [len(o) for o in out] == [3, 2, 2]
    assert out[0] == pytest.approx(_by_hand(rm, Q, S, 0.1), rel=1e-5)
    assert out[2] == pytest.approx(_by_hand(rm, "Compute: 20-1", ["20-1=19", "The answer is 19"], 0.1), rel=1e-5)
    # a running product: never increases along a solution, and in (0, 1]
    assert all(0 < b <= a <= 1 for a, b in zip([1.0] + out[0], out[0], strict=False))
    # a prefix shares its scores up to its last step, whose end is scored as "separator or end of text"
    assert out[1][0] == pytest.approx(out[0][0], rel=1e-5)
    assert out[1][1] >= out[0][1] * (1 - 1e-6)
    assert rm.score([Q], [[]]) == [[]]
    assert rm.stats["tokens"] > 0


def test_min_p_one_is_plain_relative_likelihood(tmp_path):
    out = build_model(tmp_path / "v", seed=5)
    write_reward_config(out, min_p=1.0)
    rm = load_reward_model(str(out))
    assert rm.score([Q], [S])[0] == pytest.approx(_by_hand(rm, Q, S, 1.0), rel=1e-5)


def test_bad_folders_are_named(tmp_path, verifier_dir):
    bad = build_model(tmp_path / "bad", seed=1)
    (bad / "reward_config.json").write_text(json.dumps({"kind": "likelihood", "min_p": 2}))
    with pytest.raises(ValueError, match="min_p"):
        load_reward_model(str(bad))
    (bad / "reward_config.json").write_text(json.dumps({"kind": "judge"}))
    with pytest.raises(ValueError, match="kind"):
        load_reward_model(str(bad))
    with pytest.raises(ValueError, match="kind 'orm' does not apply"):
        load_reward_model(str(verifier_dir), kind="orm")
    rm = load_reward_model(str(verifier_dir))
    with pytest.raises(TypeError, match=r"solutions\[0\]"):
        rm.score([Q], ["12+3=15"])


SHIPPED = sorted((Path(__file__).resolve().parent.parent / "data" / "models").glob("arith-verifier-*"))


@pytest.mark.skipif(not SHIPPED, reason="no shipped family verifier in data/models")
def test_the_shipped_verifier_catches_slips():
    """The family's verifier gives a step with a slipped result (a carry error: off by 10) or a term used
    twice a far lower score than the correct step at the same place, and keeps correct paths near 1."""
    from collect.family.task import generate_problems, split_steps, step_labels

    rm = load_reward_model(str(SHIPPED[0]))
    probs = generate_problems(60, seed=11, levels=(2, 3, 4))
    good = [split_steps(p.random_solution(np.random.default_rng(i))) for i, p in enumerate(probs)]

    def slip(steps):
        head, res = steps[-2].rsplit("=", 1)
        return steps[:-2] + [f"{head}={int(res) + 10}", steps[-1]]

    def reuse(steps):   # the second step adds the first step's term again
        a, total = steps[0].split("=")
        term = a[len(a.rstrip("0123456789")) - 1:]
        return [steps[0], f"{total}{term}={int(total) + int(term)}"]

    # only where the reuse is a real mistake (the question does not hold that term twice)
    probs, good = zip(*[(p, g) for p, g in zip(probs, good, strict=True)
                        if step_labels(p.question, reuse(g)) == [True, False]], strict=True)
    qs = [p.question for p in probs]
    sg, ss, sr = rm.score(qs, good), rm.score(qs, [slip(s) for s in good]), rm.score(qs, [reuse(s) for s in good])
    assert np.median([g[-1] for g in sg]) > 0.5
    assert np.mean([g[-1] > b[-1] for g, b in zip(sg, ss, strict=True)]) >= 0.95
    assert np.mean([g[1] > b[1] for g, b in zip(sg, sr, strict=True)]) >= 0.9
