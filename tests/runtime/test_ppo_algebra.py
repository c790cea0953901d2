"""PPO's algebra on small exact tensors: GAE and returns, whitening, KL estimators, the clipped
losses, the KL controller, score normalisation and the prompt order."""

from __future__ import annotations

import math

import pytest
import torch

from constlang.runtime.ppo import advantages as A
from constlang.runtime.ppo.losses import entropy, policy_loss, value_loss
from constlang.runtime.ppo.rollout import batch_indices
from constlang.runtime.ppo.state import KLController, LoopState, ScoreNormalizer


def test_gae_and_returns_match_a_hand_computation() -> None:
    rewards = torch.tensor([[0.0, 0.0, 1.0]])
    values = torch.tensor([[0.5, 0.2, 0.1]])
    adv, ret = A.gae(rewards, values, torch.ones(1, 3), gamma=0.9, lam=0.8)
    # right to left: δ2 = 1 − 0.1; δ1 = 0.9·0.1 − 0.2; δ0 = 0.9·0.2 − 0.5; A_t = δ_t + 0.72·A_t+1
    a2 = 0.9
    a1 = -0.11 + 0.72 * a2
    a0 = -0.32 + 0.72 * a1
    assert adv[0].tolist() == pytest.approx([a0, a1, a2])
    assert ret[0].tolist() == pytest.approx([a0 + 0.5, a1 + 0.2, a2 + 0.1])


def test_gae_ends_the_episode_at_the_last_reply_token_and_ignores_the_rest() -> None:
    # row: a prompt position, two reply tokens, padding; the reply alone gives the same numbers
    rewards = torch.tensor([[7.0, 0.5, 2.0, 9.0]])
    values = torch.tensor([[3.0, 1.0, 4.0, 5.0]])
    mask = torch.tensor([[0.0, 1.0, 1.0, 0.0]])
    adv, ret = A.gae(rewards, values, mask, gamma=1.0, lam=0.95)
    alone, alone_ret = A.gae(rewards[:, 1:3], values[:, 1:3], torch.ones(1, 2), 1.0, 0.95)
    assert adv[0, 1:3].tolist() == pytest.approx(alone[0].tolist())
    assert ret[0, 1:3].tolist() == pytest.approx(alone_ret[0].tolist())
    assert adv[0, 0] == 0 and adv[0, 3] == 0 and ret[0, 3] == 0
    # γ = λ = 1: the returns are the rewards still to come
    _, to_go = A.gae(torch.tensor([[1.0, 2.0, 3.0]]), torch.tensor([[0.3, -1.0, 2.0]]),
                     torch.ones(1, 3), 1.0, 1.0)
    assert to_go[0].tolist() == pytest.approx([6.0, 5.0, 3.0])


def test_whitening_uses_only_masked_positions() -> None:
    x = torch.tensor([[1.0, 2.0, 3.0, 100.0], [4.0, 5.0, -50.0, 0.0]])
    mask = torch.tensor([[1.0, 1.0, 1.0, 0.0], [1.0, 1.0, 0.0, 0.0]])
    white = A.masked_whiten(x, mask)
    kept = white[mask.bool()]
    assert float(kept.mean()) == pytest.approx(0.0, abs=1e-6)
    assert float(kept.var()) == pytest.approx(1.0, abs=1e-5)  # unbiased, like masked_var
    assert white[~mask.bool()].tolist() == [0.0, 0.0, 0.0]
    other = x.clone()
    other[0, 3], other[1, 2] = -7.0, 3.0  # what the mask hides changes nothing
    assert torch.equal(A.masked_whiten(other, mask), white)
    kept_mean = A.masked_whiten(x, mask, shift_mean=False)[mask.bool()]
    assert float(kept_mean.mean()) == pytest.approx(3.0)  # mean of 1..5 kept
    assert float(A.masked_mean(x, mask)) == 3.0
    assert float(A.masked_var(x, mask)) == pytest.approx(2.5)


def test_kl_estimators_on_exact_values_and_their_expectation() -> None:
    logp, ref = torch.tensor([math.log(0.5)]), torch.tensor([math.log(0.25)])
    assert float(A.kl_per_token(logp, ref, "k1")) == pytest.approx(math.log(2))
    # r = p_ref / p = 0.5: (r − 1) − log r
    assert float(A.kl_per_token(logp, ref, "k3")) == pytest.approx(-0.5 + math.log(2))
    # k1 can be negative for one sample; k3 never is
    assert float(A.kl_per_token(ref, logp, "k1")) < 0 < float(A.kl_per_token(ref, logp, "k3"))
    # both are unbiased: their mean under p is KL(p ‖ q) exactly
    p, q = torch.tensor([0.6, 0.3, 0.1]), torch.tensor([0.2, 0.5, 0.3])
    exact = float((p * (p / q).log()).sum())
    for estimator in ("k1", "k3"):
        per_token = A.kl_per_token(p.log(), q.log(), estimator)  # type: ignore[arg-type]
        assert float((p * per_token).sum()) == pytest.approx(exact)
    with pytest.raises(ValueError, match="k2"):
        A.kl_per_token(logp, ref, "k2")  # type: ignore[arg-type]


def test_token_rewards_put_the_score_on_the_last_reply_token() -> None:
    kl = torch.tensor([[9.0, 1.0, 2.0, 9.0], [9.0, 4.0, 9.0, 9.0]])
    mask = torch.tensor([[0.0, 1.0, 1.0, 0.0], [0.0, 1.0, 0.0, 0.0]])
    rewards = A.token_rewards(torch.tensor([10.0, -1.0]), kl, 0.5, mask)
    assert rewards.tolist() == [[0.0, -0.5, 9.0, 0.0], [0.0, -3.0, 0.0, 0.0]]


def test_policy_loss_clips_the_ratio_pessimistically() -> None:
    old = torch.zeros(1, 4)
    new = torch.log(torch.tensor([[1.5, 0.5, 1.5, 1.1]]))
    adv = torch.tensor([[2.0, 2.0, -1.0, 1.0]])
    out = policy_loss(new, old, adv, torch.ones(1, 4), clip_range=0.2)
    # token by token: max(−A·ρ, −A·clip(ρ)):
    # A>0, ρ=1.5 → −2·1.2 (clipped); A>0, ρ=0.5 → −2·0.5 (unclipped is worse);
    # A<0, ρ=1.5 → 1·1.5 (unclipped is worse); inside the range → −1.1
    assert float(out.loss) == pytest.approx((-2.4 - 1.0 + 1.5 - 1.1) / 4)
    assert float(out.clip_fraction) == pytest.approx(0.25)
    assert float(out.approx_kl) == pytest.approx(
        sum(r - 1 - math.log(r) for r in (1.5, 0.5, 1.5, 1.1)) / 4)
    same = policy_loss(old, old, adv, torch.ones(1, 4), 0.2)
    assert float(same.approx_kl) == 0 and float(same.clip_fraction) == 0
    assert float(same.loss) == pytest.approx(-float(adv.mean()))


def test_value_loss_clips_around_the_rollout_values() -> None:
    old, new, ret = torch.zeros(1, 2), torch.tensor([[1.0, 0.1]]), torch.tensor([[2.0, 0.0]])
    loss, fraction = value_loss(new, old, ret, torch.ones(1, 2), clip_range_value=0.2)
    # token 0: clipped to 0.2, (0.2 − 2)² = 3.24 > (1 − 2)²; token 1: inside the range, 0.01
    assert float(loss) == pytest.approx(0.5 * (3.24 + 0.01) / 2)
    assert float(fraction) == pytest.approx(0.5)


def test_entropy_of_uniform_and_certain_distributions() -> None:
    logits = torch.tensor([[0.0, 0.0, 0.0, 0.0], [100.0, 0.0, 0.0, 0.0]])
    assert entropy(logits).tolist() == pytest.approx([math.log(4), 0.0], abs=1e-6)


def test_explained_variance() -> None:
    ret = torch.tensor([[1.0, 2.0, 3.0, 4.0]])
    mask = torch.ones(1, 4)
    assert A.explained_variance(ret, ret, mask) == pytest.approx(1.0)
    assert A.explained_variance(torch.full((1, 4), 2.5), ret, mask) == pytest.approx(0.0)


def test_the_adaptive_kl_controller_moves_towards_its_target() -> None:
    fixed = KLController(0.1)
    fixed.update(50.0, 100)
    assert fixed.value == 0.1
    kl = KLController(0.1, target=6.0, horizon=1000)
    kl.update(12.0, 100)  # error 1.0, clipped to 0.2: β·(1 + 0.2·100/1000)
    assert kl.value == pytest.approx(0.102)
    kl.update(5.4, 100)  # error −0.1
    assert kl.value == pytest.approx(0.102 * (1 - 0.1 * 0.1))


def test_score_normalisation_initial_and_running() -> None:
    first, second = torch.tensor([1.0, 3.0]), torch.tensor([5.0, 7.0])
    assert torch.equal(ScoreNormalizer("none")(first), first)
    initial = ScoreNormalizer("initial")
    std = math.sqrt(2.0)
    assert initial(first).tolist() == pytest.approx([-1 / std, 1 / std])
    assert initial(second).tolist() == pytest.approx([3 / std, 5 / std])  # stats kept
    running = ScoreNormalizer("running")
    running(first)
    all_four = torch.tensor([1.0, 3.0, 5.0, 7.0])
    assert running(second).tolist() == pytest.approx(
        ((second - all_four.mean()) / all_four.std()).tolist())
    state = LoopState(KLController(0.3), running)
    state.step = 7
    copy = LoopState(KLController(0.0), ScoreNormalizer("running"))
    copy.load_state_dict(state.state_dict())
    assert copy.state_dict() == state.state_dict()


def test_each_epoch_of_prompts_is_a_seeded_permutation() -> None:
    stream = [i for step in range(6) for i in batch_indices(step, 5, 3, seed=1)]
    assert sorted(stream[:5]) == list(range(5)) and sorted(stream[5:10]) == list(range(5))
    assert batch_indices(4, 5, 3, seed=1) == stream[12:15]  # a function of the step alone
    assert [batch_indices(s, 5, 3, seed=2) for s in range(2)] != [stream[:3], stream[3:6]]
