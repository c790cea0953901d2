"""PPO, the loop: each update samples a batch, turns scores and KL into advantages, then runs
several epochs of clipped updates over shuffled minibatches (gradient accumulation, clipping)."""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch

from constlang.kinds.ppo import PPOSettings
from constlang.runtime.generate import GenerationEngine
from constlang.runtime.models import LoadedModel
from constlang.runtime.ppo import UPDATE_EVENT
from constlang.runtime.ppo import advantages as A
from constlang.runtime.ppo.actors import Actors
from constlang.runtime.ppo.losses import policy_loss, value_loss
from constlang.runtime.ppo.rollout import (
    ContextLimits,
    Experience,
    Query,
    action_logprobs,
    batch_indices,
    reply_start,
    rollout_settings,
    sample,
    score_batch,
)
from constlang.runtime.ppo.state import KLController, LoopState, ScoreNormalizer, save_checkpoint
from constlang.runtime.rundir import MetricsLog
from constlang.runtime.sampling import hashed_seed

if TYPE_CHECKING:
    from accelerate import Accelerator
    from transformers import PreTrainedTokenizerBase

# the metrics that depend only on the algorithm's numbers (not on the clock)
TIMINGS = ("generate_s", "score_s", "forward_s", "backward_s", "step_s")


class PPOLoop:
    """PPO on one policy, one critic, one reference and one scorer, driven step by step.

    `generation` is the policy's model declaration (its overflow policy and context length).
    Everything random is seeded by (seed, step[, epoch]), so a run resumed from a checkpoint
    continues exactly as an uninterrupted one would.
    """

    def __init__(self, settings: PPOSettings, actors: Actors,
                 tokenizer: PreTrainedTokenizerBase, queries: Sequence[Query],
                 generation: ContextLimits, accelerator: Accelerator) -> None:
        if not queries:
            raise ValueError("PPO needs at least one prompt")
        self.settings, self.actors, self.tokenizer = settings, actors, tokenizer
        self.queries, self.generation, self.accelerator = list(queries), generation, accelerator
        # Adam's eps 1e-5, as in the original PPO code (OpenAI Baselines' ppo2); Huang et al.
        # 2024's Adam section shows how PyTorch's eps differs from TensorFlow's early on
        self.optimizer = torch.optim.AdamW(actors.trainable(), lr=settings.learning_rate,
                                           eps=1e-5, weight_decay=0.0)
        if actors.critic is None:
            self.policy, self.optimizer = accelerator.prepare(actors.policy, self.optimizer)
            self.critic = None
        else:
            self.policy, self.critic, self.optimizer = accelerator.prepare(
                actors.policy, actors.critic, self.optimizer)
        self.state = LoopState(
            KLController(settings.kl_coef, settings.kl_target, settings.kl_horizon),
            ScoreNormalizer(settings.reward_normalization))
        accelerator.register_for_checkpointing(self.state)
        lm = actors.language_model(accelerator.unwrap_model(self.policy))
        self.engine = GenerationEngine(
            LoadedModel(model=lm, tokenizer=tokenizer, name="policy", source="ppo",
                        device=str(accelerator.device)), batch_size=settings.batch_size)

    @property
    def mini_batch(self) -> int:
        """Rollouts per optimizer step in this process (the mini-batch split over processes)."""
        return max(1, math.ceil(self.settings.mini_batch_size / self.accelerator.num_processes))

    @property
    def micro_batch(self) -> int:
        """Rollouts per forward/backward: a mini-batch split into the accumulation steps."""
        return max(1, math.ceil(self.mini_batch / self.settings.gradient_accumulation_steps))

    # -- one update ------------------------------------------------------------------------------
    def rollout(self, step: int) -> tuple[Experience, dict[str, float]]:
        """Sample the step's batch and score it (no gradients)."""
        s, acc = self.settings, self.accelerator
        # under several processes each takes its share of the batch and samples with its own
        # seed (Huang et al. 2024, general 6); with one, this is the whole batch
        indices = batch_indices(step, len(self.queries), s.batch_size, s.seed)
        queries = [self.queries[i] for i in indices[acc.process_index::acc.num_processes]]
        how = rollout_settings(s, self.generation, step)
        if acc.num_processes > 1:
            how = replace(how, seed=hashed_seed("ppo-rank", how.seed, acc.process_index))
        started = time.perf_counter()
        generations = sample(self.engine, queries, how)
        generated = time.perf_counter()
        with acc.autocast():  # the reference and the scorer in the policy's precision too
            experience = score_batch(
                self.actors, self.policy, self.critic, generations, queries,
                pad_id=self.tokenizer.pad_token_id, temperature=s.temperature,
                micro=self.micro_batch, device=acc.device)
        return experience, {"generate_s": generated - started,
                            "score_s": time.perf_counter() - generated}

    def advantages(self, exp: Experience) -> tuple[torch.Tensor, torch.Tensor, dict[str, float]]:
        """(advantages, returns, statistics) of a batch: the score (normalised, EOS penalty)
        at each reply's last token, −β·KL at every token, GAE, then whitening."""
        s, mask = self.settings, exp.mask
        kl = A.kl_per_token(exp.logprobs, exp.ref_logprobs, s.kl_estimator) * mask
        # statistics shared by every process: the scores and KL of the whole batch
        scores = self.state.normalizer(exp.scores, seen=self.accelerator.gather(exp.scores))
        # a reply cut off (no EOS) is penalised (cf. Huang et al. 2024, policy training 5)
        if s.missing_eos_penalty is not None:
            scores = scores + s.missing_eos_penalty * (1.0 - exp.ended)
        rewards = A.token_rewards(scores, kl, self.state.kl.value, mask)
        if s.whiten_rewards:  # mean kept (cf. Huang et al. 2024, policy training 9)
            rewards = A.masked_whiten(rewards, mask, shift_mean=False)
        advantages, returns = A.gae(rewards, exp.values, mask, s.gamma, s.lam)
        if s.whiten_advantages:  # per batch (cf. Huang et al. 2024, policy training 9)
            advantages = A.masked_whiten(advantages, mask)
        per_reply_kl = kl.sum(1)
        return advantages, returns, {
            "reward_mean": float(exp.scores.mean()),
            "reward_std": float(exp.scores.std()) if len(exp) > 1 else 0.0,
            "score_mean": float(scores.mean()),
            "kl": float(per_reply_kl.mean()),
            "non_score_reward": float(-self.state.kl.value * per_reply_kl.mean()),
            "kl_coef": self.state.kl.value,
            "explained_variance": A.explained_variance(exp.values, returns, mask),
            "value_mean": float(A.masked_mean(exp.values, mask)),
            **exp.reward_figures,
        }

    def update(self, exp: Experience, advantages: torch.Tensor, returns: torch.Tensor,
               step: int) -> dict[str, float]:
        """ppo_epochs passes over the batch in shuffled minibatches; one optimizer step per
        minibatch, its gradient summed over micro-batches and clipped."""
        s, acc = self.settings, self.accelerator
        sums: dict[str, float] = {}
        rows_seen, forward_s, backward_s, norms = 0, 0.0, 0.0, []

        def add(name: str, value: torch.Tensor, weight: int) -> None:
            sums[name] = sums.get(name, 0.0) + float(value.detach()) * weight

        for epoch in range(s.ppo_epochs):
            generator = torch.Generator().manual_seed(
                hashed_seed("ppo-minibatch", s.seed, step, epoch) & 0x7FFF_FFFF_FFFF_FFFF)
            order = torch.randperm(len(exp), generator=generator).tolist()
            for start in range(0, len(order), self.mini_batch):
                minibatch = order[start:start + self.mini_batch]
                for m_start in range(0, len(minibatch), self.micro_batch):
                    rows = minibatch[m_start:m_start + self.micro_batch]
                    t0 = time.perf_counter()
                    width = int(exp.attention_mask[rows].sum(1).max())
                    x = exp.input_ids[rows, :width]
                    cut = (rows, slice(0, width - 1))
                    mask = exp.mask[cut]
                    start = reply_start(mask)
                    logits, values = self.actors.forward(self.policy, self.critic, x,
                                                         exp.attention_mask[rows, :width],
                                                         keep=width - start)
                    logprobs, _ = action_logprobs(logits, x[:, 1:], start, s.temperature)
                    pg = policy_loss(logprobs, exp.logprobs[cut], advantages[cut], mask,
                                     s.clip_range)
                    vf, vf_clipped = value_loss(values[:, :-1], exp.values[cut], returns[cut],
                                                mask, s.clip_range_value)
                    loss = pg.loss + s.vf_coef * vf
                    t1 = time.perf_counter()
                    acc.backward(loss * len(rows) / len(minibatch))
                    backward_s += time.perf_counter() - t1
                    forward_s += t1 - t0
                    for name, value in (("policy_loss", pg.loss), ("value_loss", vf),
                                        ("clip_fraction", pg.clip_fraction),
                                        ("value_clip_fraction", vf_clipped),
                                        ("approx_kl", pg.approx_kl), ("ratio", pg.ratio)):
                        add(name, value, len(rows))
                    rows_seen += len(rows)
                t1 = time.perf_counter()
                if s.max_grad_norm is not None:
                    norms.append(float(acc.clip_grad_norm_(self.actors.trainable(),
                                                           s.max_grad_norm)))
                self.optimizer.step()
                self.optimizer.zero_grad(set_to_none=True)
                backward_s += time.perf_counter() - t1
        out = {k: v / rows_seen for k, v in sums.items()}
        if norms:
            out["grad_norm"] = sum(norms) / len(norms)
        return {**out, "forward_s": forward_s, "backward_s": backward_s}

    def run_step(self) -> dict[str, Any]:
        """One PPO update; returns its metrics (advances the step and the KL controller)."""
        step = self.state.step
        started = time.perf_counter()
        exp, timings = self.rollout(step)
        advantages, returns, stats = self.advantages(exp)
        trained = self.update(exp, advantages, returns, step)
        rollouts = self.accelerator.num_processes * len(exp)
        kl = self.accelerator.reduce(torch.tensor([stats["kl"]], device=exp.mask.device),
                                     reduction="mean")
        self.state.kl.update(float(kl), rollouts)
        self.state.step += 1
        lengths = exp.mask.sum(1)
        return {"step": step + 1, **stats, **trained, **timings,
                "entropy": exp.entropy, "response_length": float(lengths.mean()),
                "eos_fraction": float(exp.ended.mean()), "rollouts": rollouts,
                "step_s": time.perf_counter() - started}

    def train(self, *, metrics: MetricsLog | None = None, checkpoint: Path | None = None,
              on_step: Callable[[dict[str, Any]], None] | None = None) -> None:
        """Updates from the current step to settings.steps: each one's metrics to
        metrics.jsonl (main process) and the trackers, a checkpoint every checkpoint_every."""
        s, acc = self.settings, self.accelerator
        while self.state.step < s.steps:
            values = self.run_step()
            if metrics is not None and acc.is_main_process:
                metrics.log(event=UPDATE_EVENT, **values)
            acc.log({k: v for k, v in values.items() if k != "step"}, step=values["step"])
            every = s.checkpoint_every
            if checkpoint is not None and every and self.state.step % every == 0 \
                    and self.state.step < s.steps:
                save_checkpoint(acc, self.state, checkpoint)
            if on_step is not None:
                on_step(values)
