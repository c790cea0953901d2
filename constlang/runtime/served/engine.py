"""Runtime, served models: ServedEngine, the Engine protocol (generate_full, score_options) over
an OpenAI-compatible chat-completions API, every answer journaled as it arrives."""

from __future__ import annotations

import logging
import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

from constlang.runtime.decoding import truncate_at_stop
from constlang.runtime.generation import Chat, Generation, GenerationSettings
from constlang.runtime.models import ModelError
from constlang.runtime.sampling import hashed_seed
from constlang.runtime.served.client import Client, ServedError
from constlang.runtime.served.journal import Journal, request_key
from constlang.runtime.served.options import (
    TOP_LOGPROBS,
    NoLogprobs,
    common_start,
    first_choice,
    option_scores,
    parsed_scores,
    top_logprobs,
)
from constlang.runtime.served.spec import ServedSpec

log = logging.getLogger(__name__)
CHAT = "chat/completions"
PARSE_TOKENS = 8  # tokens generated for an answer that is parsed, not scored


def _chat(prompt: str | Chat) -> Chat:
    return [{"role": "user", "content": prompt}] if isinstance(prompt, str) else list(prompt)


def _generation(answer: dict[str, Any], stop: tuple[str, ...]) -> dict[str, Any]:
    """The part of a chat completion a Generation needs; ValueError when it is not one."""
    choice = first_choice(answer)
    message = choice.get("message")
    text = message.get("content") if isinstance(message, dict) else None
    if text is None:
        text = ""
    if not isinstance(text, str):
        raise ValueError("the message content is not text")
    usage = answer.get("usage")
    tokens = usage.get("completion_tokens") if isinstance(usage, dict) else None
    finish = "length" if choice.get("finish_reason") == "length" else "eos"
    cut = truncate_at_stop(text, stop) if stop else text
    if len(cut) < len(text):
        text, finish = cut, "stop"
    return {"text": text, "finish": finish,
            "tokens": tokens if isinstance(tokens, int) and tokens >= 0 else 0,
            "model": answer.get("model") if isinstance(answer.get("model"), str) else None}


class ServedEngine:
    """Generates and scores through one served model. Answers are journaled under `journal`
    (a JSONL file) so that a rerun of an interrupted stage asks only for what is missing."""

    tokenizer = None  # the tokens are the server's: token-length checks cannot count them
    use_chat_template = True

    def __init__(self, spec: ServedSpec, *, journal: Path | None = None,
                 say: Callable[[str], None] | None = None) -> None:
        self.spec = spec
        self.client = Client(spec, say=say)
        self.journal = Journal(journal)
        self._model = spec.served_model
        self.counts: dict[str, int] = {"generated_rows": 0, "skipped_prompts": 0,
                                       "scored_prompts": 0, "options_outside_top": 0,
                                       "parsed_labels": 0, "unparsed_labels": 0}
        self.server_models: set[str] = set()

    # -- what the manifest records -------------------------------------------------------------
    @property
    def stats(self) -> dict[str, Any]:
        return {"served": {**self.spec.record(), "model": self._model,
                           "answered_by": sorted(self.server_models)},
                **self.client.stats(), "reused_answers": self.journal.reused, **self.counts}

    def summary(self) -> str:
        """One line: requests, retries, tokens and time."""
        c = self.client.counters
        return (f"`{self.spec.id}` at {self.spec.endpoint}: {c.requests:,} requests "
                f"({c.retried:,} retried, {self.journal.reused:,} reused from an earlier run), "
                f"{c.prompt_tokens:,} prompt and {c.completion_tokens:,} generated tokens in "
                f"{c.seconds:.1f} s")

    @property
    def model_name(self) -> str:
        """The served model's name: declared, else the only one the server lists."""
        if self._model is None:
            listed = self.client.get("models").get("data")
            names: list[str] = [m["id"] for m in listed or []
                                if isinstance(m, dict) and isinstance(m.get("id"), str)]
            if len(names) != 1:
                shown = ", ".join(names[:10]) or "none"
                raise ModelError(f"{self.spec.where} serves {len(names)} models ({shown}); "
                                 "name one with served_model")
            self._model = names[0]
        return str(self._model)

    # -- asking, with the journal --------------------------------------------------------------
    def _ask(self, bodies: list[dict[str, Any]], read: Callable[[dict[str, Any]], Any], *,
             skip_too_long: bool = False,
             progress: Callable[[int], None] | None = None) -> list[Any]:
        """What `read` makes of each body's answer, journaled; None for a prompt the server
        refused as too long when `skip_too_long`."""
        if not bodies:
            return []
        model = self.model_name
        for body in bodies:
            body["model"] = model
        keys = [request_key(self.spec.endpoint, model, CHAT, b) for b in bodies]
        out: list[Any] = [self.journal.get(k) for k in keys]
        if progress is not None and any(o is not None for o in out):
            progress(sum(o is not None for o in out))
        todo = [i for i, o in enumerate(out) if o is None]

        def arrived(j: int, value: Any) -> None:
            i = todo[j]
            value = {"skipped": True} if value is None else value
            out[i] = value
            self.journal.put(keys[i], value)
            if progress is not None:
                progress(1)

        self.client.run(CHAT, [bodies[i] for i in todo], arrived, read=read,
                        skip_too_long=skip_too_long)
        return [None if o == {"skipped": True} else o for o in out]

    # -- generating ----------------------------------------------------------------------------
    def _body(self, prompt: str | Chat, settings: GenerationSettings, seed: int) -> dict[str, Any]:
        body: dict[str, Any] = {"messages": _chat(prompt), "max_tokens": settings.max_new_tokens,
                                "temperature": settings.temperature, "seed": seed}
        if settings.temperature > 0 and settings.top_p < 1:
            body["top_p"] = settings.top_p
        if settings.stop:
            body["stop"] = list(settings.stop)[:4]  # the API takes at most four
        if settings.repetition_penalty != 1:
            body["repetition_penalty"] = settings.repetition_penalty  # vLLM, TGI, llama.cpp
        if settings.min_new_tokens:
            body["min_tokens"] = settings.min_new_tokens
        return body

    def generate_full(self, prompts: list[str] | list[Chat], settings: GenerationSettings,
                      progress: Callable[[int], None] | None = None) -> list[Generation]:
        """One completion per prompt, in input order; a prompt the server refuses as too long
        is skipped (counted) unless the settings' overflow is "error"."""
        bodies = [self._body(p, settings, hashed_seed("served", settings.seed, i) & 0x7FFFFFFF)
                  for i, p in enumerate(list[Any](prompts))]
        stop = tuple(settings.stop)
        answers = self._ask(bodies, lambda a: _generation(a, stop),
                            skip_too_long=settings.overflow != "error", progress=progress)
        out = []
        for answer in answers:
            if answer is None:
                self.counts["skipped_prompts"] += 1
                out.append(Generation("", "skipped", 0))
                continue
            if answer.get("model"):
                self.server_models.add(answer["model"])
            out.append(Generation(answer["text"], answer["finish"], answer["tokens"]))
        self.counts["generated_rows"] += len(out)
        log.info("%s", self.summary())
        return out

    def generate(self, prompts: list[str] | list[Chat], settings: GenerationSettings,
                 progress: Callable[[int], None] | None = None) -> list[str]:
        return [g.text for g in self.generate_full(prompts, settings, progress)]

    # -- scoring -------------------------------------------------------------------------------
    def score_options(self, prompts: list[str] | list[Chat], options: list[str], *,
                      overflow: str = "error",
                      context_length: int | None = None) -> list[list[float]]:
        """Log-probability of each option as the answer to each prompt, from the server's
        log-probabilities (see served.options); a prompt refused as too long scores -inf for
        every option (no preference) unless overflow is "error". A server without
        log-probabilities stops the stage, unless the model declares without_logprobs =
        "parse": then the answer is generated and read (recorded as parsed_labels)."""
        if not options:
            raise ValueError("score_options needs at least one option")
        if not prompts:
            return []
        try:
            scores = self._scored(prompts, options, overflow)
        except NoLogprobs as e:
            if self.spec.without_logprobs != "parse":
                raise ServedError(
                    f"{self.spec.where} returns no log-probabilities ({e}), which judging "
                    "reads; serve the judge with a server that does (vLLM, TGI, llama.cpp), "
                    "or declare without_logprobs = \"parse\" on the model to read its answers "
                    "instead (weaker, and recorded in the manifest)") from None
            scores = self._parsed(prompts, options, overflow)
        self.counts["scored_prompts"] += len(prompts)
        return scores

    def _logprob_body(self, chat: Chat) -> dict[str, Any]:
        return {"messages": chat, "max_tokens": 1, "temperature": 0, "logprobs": True,
                "top_logprobs": TOP_LOGPROBS}

    def _scored(self, prompts: list[str] | list[Chat], options: list[str],
                overflow: str) -> list[list[float]]:
        chats = [_chat(p) for p in list[Any](prompts)]
        skip = overflow != "error"
        firsts = self._ask([self._logprob_body(c) for c in chats], top_logprobs,
                           skip_too_long=skip)
        start = common_start(options)
        afters: list[Any] = [None] * len(chats)
        need = [i for i, t in enumerate(firsts) if t is not None and start
                and option_scores(options, t, None)[1]]
        if need:  # the token after the options' common start, from a continued message
            try:
                found = self._ask([{**self._logprob_body(chats[i] + [
                    {"role": "assistant", "content": start}]), "continue_final_message": True,
                    "add_generation_prompt": False} for i in need], top_logprobs,
                    skip_too_long=skip)
            except ServedError as e:
                raise ServedError(
                    f"{e}; options that start alike ({options[0]!r}, {options[1]!r}) are "
                    "scored by continuing an assistant message that holds their common start, "
                    "which this server refused: give the question options that differ from "
                    "their first character (e.g. [\"A\", \"B\"])") from None
            for i, table in zip(need, found, strict=True):
                afters[i] = table
        out = []
        for first, after in zip(firsts, afters, strict=True):
            if first is None:
                out.append([-math.inf] * len(options))
                continue
            row, missing = option_scores(options, first, after)
            self.counts["options_outside_top"] += missing
            out.append(row)
        return out

    def _parsed(self, prompts: list[str] | list[Chat], options: list[str],
                overflow: str) -> list[list[float]]:
        settings = GenerationSettings(max_new_tokens=PARSE_TOKENS, temperature=0.0,
                                      overflow="skip" if overflow != "error" else "error")
        texts = [g.text for g in self.generate_full(prompts, settings)]
        out = [parsed_scores(t, options) for t in texts]
        named = sum(any(math.isfinite(s) for s in row) for row in out)
        self.counts["parsed_labels"] += named
        self.counts["unparsed_labels"] += len(out) - named
        return out
