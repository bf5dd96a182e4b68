"""Step-tag reward models on tiny random models: scores against a hand computation, PRM prefix
consistency, batching with padding, ORM, and clear errors for bad folders."""

from __future__ import annotations

import json

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")

from helpers_models import STEP_TAG, build_model, build_reward_model  # noqa: E402

from collect.rewards import RewardModel, encode_reward_input, load_reward_model, reward_text  # noqa: E402

Q1 = "What is 2+3*4?"
S1 = ["Step 1: 3*4=12", "Step 2: 2+12=14", "The answer is 14"]
Q2 = "Compute 7-5."
S2 = ["Step 1: 7-5=2", "The answer is 2"]


pytestmark = pytest.mark.usefixtures("one_thread")   # tiny models: one torch thread (conftest.py)


@pytest.fixture(scope="module")
def prm_dir(tmp_path_factory):
    return build_reward_model(tmp_path_factory.mktemp("rm") / "tiny-prm", kind="prm", seed=2)


@pytest.fixture(scope="module")
def prm(prm_dir):
    return load_reward_model(str(prm_dir), batch_size=2)


def _by_hand(rm, question, steps, kind):
    text = reward_text(question, steps, STEP_TAG, kind)
    ids = rm.tokenizer(text)["input_ids"]
    tag = rm.tokenizer.convert_tokens_to_ids(STEP_TAG)
    good, bad = rm.tokenizer.convert_tokens_to_ids("+"), rm.tokenizer.convert_tokens_to_ids("-")
    with torch.no_grad():
        logits = rm.model(input_ids=torch.tensor([ids])).logits[0]
    out = []
    for pos, t in enumerate(ids):
        if t == tag:
            zg, zb = float(logits[pos, good]), float(logits[pos, bad])
            out.append(1.0 / (1.0 + torch.exp(torch.tensor(zb - zg)).item()))
    return out


def test_prm_scores_match_hand_computation_and_batching(prm):
    assert isinstance(prm, RewardModel)
    assert prm.kind == "prm" and prm.name == "tiny-prm"
    assert prm.params == sum(p.numel() for p in prm.model.parameters())
    batch = prm.score([Q1, Q2, Q1], [S1, S2, S1[:1]])
    assert [len(b) for b in batch] == [3, 2, 1]
    assert batch[0] == pytest.approx(_by_hand(prm, Q1, S1, "prm"), abs=1e-5)
    assert batch[1] == pytest.approx(_by_hand(prm, Q2, S2, "prm"), abs=1e-5)
    # causal model: the score of a prefix does not depend on later steps; padding changes nothing
    assert batch[2] == pytest.approx(batch[0][:1], abs=1e-5)
    alone = prm.score([Q2], [S2])
    assert alone[0] == pytest.approx(batch[1], abs=1e-5)
    assert all(0.0 < s < 1.0 for b in batch for s in b)
    assert prm.score([Q1], [[]]) == [[]]


def test_orm_kind_and_layout(prm_dir):
    orm = load_reward_model(str(prm_dir), kind="orm")
    assert orm.kind == "orm"
    out = orm.score([Q1, Q2], [S1, S2])
    assert [len(o) for o in out] == [1, 1]
    assert out[0] == pytest.approx(_by_hand(orm, Q1, S1, "orm"), abs=1e-5)
    assert reward_text(Q2, S2, STEP_TAG, "orm") == f"{Q2}\n{S2[0]}\n\n{S2[1]} {STEP_TAG}"
    assert reward_text(Q2, S2, STEP_TAG, "prm") == f"{Q2}\n{S2[0]} {STEP_TAG}\n\n{S2[1]} {STEP_TAG}"


def test_encoding_positions_are_the_tags(prm):
    ids, pos = encode_reward_input(prm.tokenizer, Q1, S1 + [f"stray {STEP_TAG} tag"], STEP_TAG)
    tag = prm.tokenizer.convert_tokens_to_ids(STEP_TAG)
    assert [i for i, t in enumerate(ids) if t == tag] == pos and len(pos) == 4
    assert ids == prm.tokenizer(reward_text(Q1, S1 + ["stray  tag"], STEP_TAG))["input_ids"]


def test_family_prm_layout_if_present():
    family = pytest.importorskip("collect.family.prm")
    from collect.family.tokenizer import build_tokenizer

    tok = build_tokenizer()
    q, steps = "Evaluate left to right: 2+3*4", ["Step 1: 2+3=5", "Step 2: 5*4=20", "The answer is 20"]
    assert reward_text(q, steps) == family.prm_text(q, steps)
    ids, _ = encode_reward_input(tok, q, steps, STEP_TAG)
    assert ids == tok(family.prm_text(q, steps))["input_ids"]


def test_bad_folders_fail_before_compute(tmp_path):
    bad = build_reward_model(tmp_path / "no-tag-prm", step_tag_token=False)
    with pytest.raises(ValueError, match="step tag 'ки'"):
        load_reward_model(str(bad))
    plain = build_model(tmp_path / "plain")
    with pytest.raises(FileNotFoundError, match="reward_config.json"):
        load_reward_model(str(plain))
    (plain / "reward_config.json").write_text(json.dumps({"kind": "xrm", "step_tag": STEP_TAG,
                                                          "good_token": "+", "bad_token": "-"}))
    with pytest.raises(ValueError, match="'kind'"):
        load_reward_model(str(plain))
    (plain / "reward_config.json").write_text(json.dumps({"kind": "prm", "step_tag": STEP_TAG,
                                                          "good_token": "++", "bad_token": "-"}))
    with pytest.raises(ValueError, match="single token"):
        load_reward_model(str(plain))
    with pytest.raises(FileNotFoundError, match="does not exist"):
        load_reward_model(str(tmp_path / "missing" / "prm"))
