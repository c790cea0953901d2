"""Runtime, generation: batched seeded sampling and option scoring (the one model.generate)."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from constlang.runtime.decoding import (  # noqa: F401  (truncate_at_stop: re-exported)
    GeneratedRepetitionPenalty,
    PrefillClock,
    StopStrings,
    finishes,
    truncate_at_stop,
)
from constlang.runtime.generation import (  # noqa: F401  (re-exported: the engine's vocabulary)
    Chat,
    Generation,
    GenerationSettings,
    Prompt,
    batch_seed,
)
from constlang.runtime.models import LoadedModel, ModelError
from constlang.runtime.prefix import (
    MIN_PREFIX_TOKENS,
    SharedPrefix,
    common_prefix_length,
    layout,
)
from constlang.runtime.scoring import continuations, score_batch

if TYPE_CHECKING:
    import torch

log = logging.getLogger(__name__)

def generating_model(model: Any) -> Any:
    """The transformers model whose `generate` runs inside wrappers (DDP's `module`, the value
    head's `lm`, a PEFT model's base: PEFT copies its own view of the config onto it)."""
    for _ in range(8):
        if hasattr(model, "get_base_model"):  # PEFT
            model = model.get_base_model()
            continue
        modules = getattr(model, "_modules", None) or {}
        inner = modules.get("module") or modules.get("lm")
        if inner is None:
            return model
        model = inner
    return model


@contextmanager
def stage_settings_only(model: Any) -> Iterator[None]:
    """Set the model's own `generation_config` aside while it generates: transformers fills
    every setting a call leaves unset from it, so a checkpoint's sampling defaults (a
    repetition penalty, top_k, beams, n-gram blocking) would change what a stage samples — and
    PPO would score other replies than it drew. Only token ids are kept; the config is put
    back afterwards, also on an error, so a saved model keeps its own."""
    from transformers import GenerationConfig

    inner = generating_model(model)
    config = getattr(inner, "generation_config", None)
    if not isinstance(config, GenerationConfig):
        yield
        return
    try:
        inner.generation_config = GenerationConfig(
            bos_token_id=config.bos_token_id, eos_token_id=config.eos_token_id,
            pad_token_id=config.pad_token_id, decoder_start_token_id=config.decoder_start_token_id)
        yield
    finally:
        inner.generation_config = config


class GenerationEngine:
    """Batched generation and scoring with one loaded model.

    Prompts are tokenized, sorted by length (longest first, so memory errors show at once) and
    run `batch_size` at a time with left padding and the KV cache; results come back in input
    order. Sampling is seeded per batch from (seed, batch index): the same prompts and settings
    give the same texts; greedy decoding (temperature 0) does not depend on batching at all.
    With `prefix_reuse`, the tokens every prompt of a call starts with are prefilled once and
    shared (see `constlang.runtime.prefix`).
    """

    def __init__(self, loaded: LoadedModel, *, batch_size: int = 8,
                 use_chat_template: bool = True, prefix_reuse: bool = True) -> None:
        if batch_size < 1:
            raise ValueError("batch_size must be at least 1")
        self.loaded = loaded
        self.model = loaded.model
        self.tokenizer = loaded.tokenizer
        self.batch_size = batch_size
        self.prefix_reuse = prefix_reuse
        self.has_chat_template = bool(getattr(self.tokenizer, "chat_template", None))
        self.use_chat_template = use_chat_template and self.has_chat_template
        if use_chat_template and not self.has_chat_template:
            log.warning("model '%s' has no chat template: prompts are used as plain text",
                        loaded.name)
        self.stats: dict[str, Any] = {
            "calls": 0, "prompts": 0, "generated_tokens": 0, "prompt_tokens": 0, "seconds": 0.0,
            # prefill: tokens actually run before the first new token (a shared prefix once)
            "prefill_tokens": 0, "reused_prefix_tokens": 0, "prefill_seconds": 0.0,
            "decode_seconds": 0.0, "finished_eos": 0, "finished_length": 0, "finished_stop": 0,
            "finished_skipped": 0, "truncated_prompts": 0, "skipped_prompts": 0,
            "score_calls": 0, "scored_prompts": 0, "score_seconds": 0.0,
            "score_reused_prefix_tokens": 0}

    # -- prompts ---------------------------------------------------------------------------------
    def render(self, prompt: Prompt) -> str:
        """The exact text the model reads for a prompt (chat template with generation prompt)."""
        if isinstance(prompt, str) and not self.use_chat_template:
            return prompt
        if not self.has_chat_template:
            raise ModelError(f"model '{self.loaded.name}' has no chat template, so it cannot take "
                             "chat prompts; pass plain strings")
        chat = [{"role": "user", "content": prompt}] if isinstance(prompt, str) else prompt
        return self.tokenizer.apply_chat_template(chat, add_generation_prompt=True, tokenize=False)

    def encode(self, prompts: Sequence[Prompt]) -> list[list[int]]:
        """Token ids of each rendered prompt (a chat template already holds its special tokens)."""
        special = not self.use_chat_template
        return [self.tokenizer(self.render(p), add_special_tokens=special)["input_ids"]
                for p in prompts]

    def _batches(self, encoded: Sequence[Sequence[int]]) -> list[list[int]]:
        order = sorted(range(len(encoded)), key=lambda i: -len(encoded[i]))  # stable for ties
        return [order[i:i + self.batch_size] for i in range(0, len(order), self.batch_size)]

    def _pad_left(self, rows: Sequence[Sequence[int]]) -> tuple[torch.Tensor, torch.Tensor]:
        import torch

        width = max(len(r) for r in rows)
        pad = self.tokenizer.pad_token_id
        ids = torch.tensor([[pad] * (width - len(r)) + list(r) for r in rows], dtype=torch.long)
        mask = torch.tensor([[0] * (width - len(r)) + [1] * len(r) for r in rows],
                            dtype=torch.long)
        return ids.to(self.loaded.device), mask.to(self.loaded.device)

    def _context(self, declared: int | None = None) -> int | None:
        """The model's context window: its config's, else the plan's declaration."""
        return getattr(self.model.config, "max_position_embeddings", None) or declared

    def _check_context(self, encoded: Sequence[Sequence[int]], new_tokens: int,
                       declared: int | None = None) -> None:
        limit = self._context(declared)
        longest = max(range(len(encoded)), key=lambda i: len(encoded[i]))
        if limit and len(encoded[longest]) + new_tokens > limit:
            raise ModelError(
                f"prompt {longest} is {len(encoded[longest])} tokens; with {new_tokens} new tokens "
                f"it exceeds the context of model '{self.loaded.name}' ({limit} tokens): shorten "
                "the prompt, its few-shot examples, or max_new_tokens")

    def _fit(self, encoded: list[list[int]], settings: GenerationSettings) -> list[int]:
        """Apply the overflow policy to prompts that do not fit the context with
        max_new_tokens: cut their oldest tokens in place, or return their indices to skip."""
        limit = self._context(settings.context_length)
        if settings.overflow == "error" or not limit:
            self._check_context(encoded, settings.max_new_tokens, settings.context_length)
            return []
        room = limit - settings.max_new_tokens
        if room < 1:
            raise ModelError(f"max_new_tokens ({settings.max_new_tokens}) leaves no room for a "
                             f"prompt in the {limit}-token context of model "
                             f"'{self.loaded.name}'")
        skipped = []
        for i, ids in enumerate(encoded):
            if len(ids) <= room:
                continue
            if settings.overflow == "skip":
                skipped.append(i)
            else:
                encoded[i] = ids[len(ids) - room:]
                self.stats["truncated_prompts"] += 1
        self.stats["skipped_prompts"] += len(skipped)
        return skipped

    def _eos_ids(self) -> list[int]:
        configured = getattr(self.model.generation_config, "eos_token_id", None)
        ids = configured if isinstance(configured, list) else [configured]
        ids = [*ids, self.tokenizer.eos_token_id]
        return sorted({i for i in ids if i is not None})

    @contextmanager
    def _running(self) -> Iterator[None]:
        """inference_mode and eval mode, restoring the model's training flag afterwards."""
        import torch

        from constlang.runtime.models import memory_advice

        was_training = self.model.training
        self.model.eval()
        try:
            with torch.inference_mode(), memory_advice("generating (lower batch_size)"):
                yield
        finally:
            self.model.train(was_training)

    # -- generation ------------------------------------------------------------------------------
    def generate(self, prompts: list[str] | list[Chat], settings: GenerationSettings,
                 progress: Callable[[int], None] | None = None) -> list[str]:
        """One completion per prompt, in input order (the texts of `generate_full`)."""
        return [g.text for g in self.generate_full(prompts, settings, progress)]

    def generate_full(self, prompts: list[str] | list[Chat], settings: GenerationSettings,
                      progress: Callable[[int], None] | None = None) -> list[Generation]:
        """One completion per prompt, in input order, with how each ended. A prompt is a user
        message (str) or a full chat (list of {"role","content"}); the chat template is applied
        with add_generation_prompt.

        `progress`, if given, is called after each batch with the number of prompts it finished.
        """
        if not prompts:
            return []
        started = time.perf_counter()
        encoded = self.encode(prompts)
        skipped = set(self._fit(encoded, settings))
        results: list[Generation | None] = [
            Generation("", "skipped", 0) if i in skipped else None for i in range(len(prompts))]
        kept = [i for i in range(len(prompts)) if i not in skipped]
        with self._running():
            shared = self._shared_prefix([encoded[i] for i in kept])
            for index, batch in enumerate(self._batches([encoded[i] for i in kept])):
                rows = [kept[j] for j in batch]
                batch_start = time.perf_counter()
                outs = self._generate_batch([encoded[i] for i in rows], settings,
                                            batch_seed(settings.seed, index), shared)
                for i, out in zip(rows, outs, strict=True):
                    results[i] = out
                log.debug("batch %d: %d prompts, %d new tokens, %.2f s", index, len(rows),
                          sum(o.tokens for o in outs), time.perf_counter() - batch_start)
                if progress is not None:
                    progress(len(rows))
        done = [r for r in results if r is not None]
        seconds = time.perf_counter() - started
        new_tokens = sum(g.tokens for g in done)
        self.stats["calls"] += 1
        self.stats["prompts"] += len(prompts)
        self.stats["generated_tokens"] += new_tokens
        self.stats["prompt_tokens"] += sum(len(e) for e in encoded)
        self.stats["seconds"] += seconds
        for g in done:
            self.stats[f"finished_{g.finish}"] += 1
        log.info("generated %d completions, %d new tokens in %.1f s (%.0f tokens/s)",
                 len(prompts), new_tokens, seconds, new_tokens / max(seconds, 1e-9))
        return done

    def _shared_prefix(self, encoded: Sequence[Sequence[int]], *,
                       generating: bool = True) -> SharedPrefix | None:
        """The prefilled head every prompt of the call shares, when it is long enough (its
        cost is counted in the generation stats when `generating`; scoring has its own)."""
        n = common_prefix_length(encoded) if self.prefix_reuse and len(encoded) > 1 else 0
        if n < MIN_PREFIX_TOKENS:
            return None
        shared = SharedPrefix(self.model, encoded[0][:n], self.loaded.device)
        if generating:
            self.stats["prefill_tokens"] += n
            self.stats["prefill_seconds"] += shared.seconds
        else:
            self.stats["score_reused_prefix_tokens"] += n * (len(encoded) - 1)
        return shared

    def _generate_batch(self, rows: list[list[int]], settings: GenerationSettings, seed: int,
                        shared: SharedPrefix | None = None) -> list[Generation]:
        import torch

        pad = self.tokenizer.pad_token_id
        if shared is not None:
            p = len(shared)
            ids, mask = layout(shared.ids, [r[p:] for r in rows], pad, self.loaded.device)
            reused = p * len(rows)
        else:
            ids, mask = self._pad_left(rows)
            reused = 0
        eos = self._eos_ids()
        clock = PrefillClock()
        processors: list[Any] = [clock]
        if settings.repetition_penalty != 1.0:
            processors.insert(0, GeneratedRepetitionPenalty(settings.repetition_penalty,
                                                            ids.shape[1]))
        kwargs: dict[str, Any] = {
            "max_new_tokens": settings.max_new_tokens, "min_new_tokens": settings.min_new_tokens,
            "pad_token_id": pad, "eos_token_id": eos, "use_cache": True,
            "do_sample": settings.temperature > 0, "logits_processor": processors,
        }
        if shared is not None:
            kwargs.update(shared.for_batch(len(rows)))
        if settings.temperature > 0:  # top_k=0 turns off transformers' default top-k of 50
            kwargs.update(temperature=settings.temperature, top_p=settings.top_p, top_k=0)
        stops = StopStrings(self.tokenizer, settings.stop, ids.shape[1]) if settings.stop else None
        if stops is not None:
            kwargs["stopping_criteria"] = [stops]
        device = torch.device(self.loaded.device)
        forked = [device.index or 0] if device.type == "cuda" else []
        started = time.perf_counter()
        with torch.random.fork_rng(devices=forked), stage_settings_only(self.model):
            torch.manual_seed(seed)  # (the caller's random state is left alone)
            out = self.model.generate(input_ids=ids, attention_mask=mask, **kwargs)
        ended = time.perf_counter()
        first = clock.first or ended
        self.stats["prefill_tokens"] += int(mask.sum()) - reused
        self.stats["reused_prefix_tokens"] += reused
        self.stats["prefill_seconds"] += first - started
        self.stats["decode_seconds"] += ended - first
        new = out[:, ids.shape[1]:]
        texts = self.tokenizer.batch_decode(new, skip_special_tokens=True)
        if settings.stop:
            texts = [truncate_at_stop(t, settings.stop) for t in texts]
        how = finishes(new, eos, stops.stopped_after if stops else {})
        new_ids = new.tolist()
        return [Generation(text, finish, tokens, tuple(row), tuple(ids[:tokens]))
                for text, (finish, tokens), row, ids in zip(texts, how, rows, new_ids,
                                                            strict=True)]

    # -- scoring ---------------------------------------------------------------------------------
    def score_options(self, prompts: list[str] | list[Chat], options: list[str], *,
                      overflow: str = "error",
                      context_length: int | None = None) -> list[list[float]]:
        """Log-probability of each option string as the continuation of each prompt (no
        generation); the AI-feedback stage's judge and `judge-check` read these.

        Each option's tokens are those of the prompt's text with the option appended, after the
        prompt's own (scoring.continuations); options are compared up to and including their
        first differing token (scoring.scored_lengths). Result: [prompt][option]. Each batch
        runs its prompts once and the options as short continuations from their KV cache, so
        scoring n options costs about one prompt pass, not n; with `prefix_reuse`, the head
        all prompts share (chat template, fixed opening, few-shot turns) is run once for the
        call (runtime.prefix). A prompt too long for the
        context follows `overflow` (see GenerationSettings); a skipped one scores -inf for
        every option (no preference).
        """
        if not options:
            raise ValueError("score_options needs at least one option")
        if not prompts:
            return []
        started = time.perf_counter()
        special = not self.use_chat_template
        split = [continuations(self.tokenizer, self.render(p), options, special)
                 for p in prompts]
        encoded = [ids for ids, _ in split]
        policy = GenerationSettings(
            max_new_tokens=max(len(c) for _, conts in split for c in conts),
            overflow=overflow, context_length=context_length)
        skipped = set(self._fit(encoded, policy))
        scores = [[float("-inf")] * len(options) for _ in prompts]
        kept = [i for i in range(len(prompts)) if i not in skipped]
        with self._running():
            shared = self._shared_prefix([encoded[i] for i in kept], generating=False)
            for batch_rows in self._batches([encoded[i] for i in kept]):
                rows = [kept[j] for j in batch_rows]
                batch = score_batch(self, [encoded[i] for i in rows],
                                    [split[i][1] for i in rows], shared)
                for i, row_scores in zip(rows, batch, strict=True):
                    scores[i] = row_scores
        self.stats["score_calls"] += 1
        self.stats["scored_prompts"] += len(prompts)
        self.stats["score_seconds"] += time.perf_counter() - started
        return scores
