"""Measured rates (runner): how fast each stage kind ran on this machine, kept in a small
per-user file in the cache for the time estimate at the start of `constlang train`.

The file holds, per key (machine and device, stage kind, model source, unit of work), the last
few measured seconds per unit. It is bounded (size, keys, samples) and written atomically; a
file that cannot be read or does not hold what this module writes is ignored with a warning.
"""

from __future__ import annotations

import json
import math
import os
import platform
import time
from collections.abc import Callable
from pathlib import Path

from constlang.files import FileTooLarge, NotRegularFile, atomic_write_text, read_own

RATES_NAME = "rates.json"
FORMAT = 1
MAX_BYTES = 1 << 20  # a larger file is not one this module wrote: ignored
MAX_KEYS = 200  # the least recently measured keys are dropped beyond this
SAMPLES = 5  # measurements kept per key, the latest last
MAX_KEY_CHARS = 600
MAX_SECONDS_PER_UNIT = 1e6
MAX_AMOUNT = 1e12

Sample = tuple[float, float]  # seconds per unit, and the units of work it was measured on
Rates = dict[str, list[Sample]]
Warn = Callable[[str], None]


RATES_ENV = "CONSTLANG_RATES"  # another rates file (tests point it at a temporary one)


def rates_path() -> Path:
    """The rates file: $CONSTLANG_RATES, else rates.json in the user cache ($CONSTLANG_CACHE,
    else the XDG cache)."""
    if os.environ.get(RATES_ENV):
        return Path(os.environ[RATES_ENV]).expanduser()
    from constlang.runtime.models import cache_root

    return cache_root() / RATES_NAME


def machine_key(device: str) -> str:
    """What a rate depends on besides the work: the processor (or accelerator), the cores
    this process may use, torch's thread count, the device, and a launcher's processes."""
    import torch

    from constlang.runtime.processes import world_size

    processes = f", {world_size()} processes" if world_size() > 1 else ""
    if device.startswith("cuda"):
        index = int(device.split(":")[1]) if ":" in device else 0
        return f"cuda {torch.cuda.get_device_name(index)}{processes}"
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        cores = os.cpu_count() or 1
    threads = torch.get_num_threads()
    return (f"{device} {cpu_name()} ({cores} cores, {threads} thread"
            f"{'' if threads == 1 else 's'}{processes})")


def cpu_name() -> str:
    """The processor's model name (/proc/cpuinfo on Linux), else the platform's word for it."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as fh:
            for line in fh:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()[:100]
    except OSError:
        pass
    return (platform.processor() or platform.machine() or "unknown cpu")[:100]


def _valid(data: object) -> Rates:
    """The rates of a parsed file; ValueError naming what is wrong."""
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise ValueError(f"not a format-{FORMAT} rates file")
    rates, seen = data.get("rates"), data.get("measured_at")
    if not isinstance(rates, dict) or not isinstance(seen, dict) or len(rates) > MAX_KEYS:
        raise ValueError(f"`rates` and `measured_at` must be objects of at most {MAX_KEYS} keys")
    out: Rates = {}
    for key, values in rates.items():
        if len(key) > MAX_KEY_CHARS or not isinstance(values, list) \
                or not 1 <= len(values) <= SAMPLES:
            raise ValueError(f"entry {key[:80]!r} is not a list of 1 to {SAMPLES} samples")
        if not all(isinstance(v, list) and len(v) == 2 and _number(v[0], MAX_SECONDS_PER_UNIT)
                   and _number(v[1], MAX_AMOUNT) for v in values):
            raise ValueError(f"entry {key[:80]!r} holds a sample that is not two positive "
                             "numbers (seconds per unit, units)")
        out[key] = [(float(v[0]), float(v[1])) for v in values]
    return out


def _number(value: object, most: float) -> bool:
    return type(value) in (int, float) and math.isfinite(value) and 0 < value <= most  # type: ignore[operator, arg-type]


def _stamps(data: dict, rates: Rates) -> dict[str, float]:
    seen = data.get("measured_at") or {}
    return {k: float(v) if type(v) in (int, float) and math.isfinite(v) else 0.0
            for k in rates for v in [seen.get(k, 0.0)]}


def load(warn: Warn, path: Path | None = None) -> tuple[Rates, dict[str, float]]:
    """The recorded rates and when each key was last measured; empty when there is no file.
    A file that cannot be read or is not one this module writes is ignored with a warning."""
    path = path or rates_path()
    try:
        data = json.loads(read_own(path, MAX_BYTES).decode("utf-8"))
        rates = _valid(data)
    except FileNotFoundError:
        return {}, {}
    except FileTooLarge:
        warn(f"ignored the rates file {path}: larger than {MAX_BYTES:,} bytes")
        return {}, {}
    except (OSError, NotRegularFile, UnicodeDecodeError, ValueError, RecursionError) as exc:
        why = exc.strerror if isinstance(exc, OSError) and exc.strerror else exc
        warn(f"ignored the rates file {path} ({why}); it is written anew after the next stage")
        return {}, {}
    return rates, _stamps(data, rates)


def record(key: str, seconds_per_unit: float, amount: float, warn: Warn,
           path: Path | None = None) -> None:
    """Add one measurement (over `amount` units of work) under `key`, keeping the last
    SAMPLES, and write the file atomically; a failure to write is a warning, never an error
    of the run."""
    if not (_number(seconds_per_unit, MAX_SECONDS_PER_UNIT) and _number(amount, MAX_AMOUNT)):
        return
    path = path or rates_path()
    rates, stamps = load(lambda _: None, path)  # a broken file was reported at the start
    rates[key[:MAX_KEY_CHARS]] = [*rates.get(key[:MAX_KEY_CHARS], []),
                                  (round(seconds_per_unit, 9), amount)][-SAMPLES:]
    stamps[key[:MAX_KEY_CHARS]] = time.time()
    kept = sorted(rates, key=lambda k: stamps.get(k, 0.0))[-MAX_KEYS:]
    data = {"format": FORMAT, "rates": {k: rates[k] for k in sorted(kept)},
            "measured_at": {k: stamps.get(k, 0.0) for k in sorted(kept)}}
    try:
        atomic_write_text(path, json.dumps(data, indent=1) + "\n", make_parents=True,
                          follow=False)
    except OSError as exc:
        warn(f"could not record this stage's rate in {path}: {exc.strerror or exc}")
