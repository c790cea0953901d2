#!/usr/bin/env bash
# The GPU check on the device machine (no network): install the wheels that
# benchmarks/gpu/wheels.sh prepared (carried in benchmarks/gpu/wheels/), then run every step.
# Usage, from the repository root: bash benchmarks/gpu/run.sh [OUT_DIR] [run.py options...]
# (OUT_DIR defaults to $OUT/gpu, else gpu-check). Exit status: run.py's (1 when a check failed),
# 3 when the wheels could not be installed.
set -uo pipefail
cd "$(dirname "$0")/../.." || exit 3
py="${PYTHON:-python3}"
wheels=benchmarks/gpu/wheels
tag="$("$py" -c 'import sys; print(f"py{sys.version_info[0]}{sys.version_info[1]}")')"
if [ ! -d "$wheels/$tag" ]; then
  echo "no wheels for $tag in $wheels: run bash benchmarks/gpu/wheels.sh first (and carry $wheels)"
  exit 3
fi
site="${TMPDIR:-/tmp}/constlang-gpu-site"
started=$(date +%s)
"$py" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
  --target "$site" "$wheels/$tag"/*.whl || exit 3
echo "set-up: wheels installed into $site in $(( $(date +%s) - started )) s"
export PYTHONPATH="$site:$PWD${PYTHONPATH:+:$PYTHONPATH}"
export CONSTLANG_TEST_TOKENIZER="$PWD/$wheels/tokenizer"
# what the image brings that the carried wheels rely on (datasets needs pyarrow >= 24,
# fsspec <= 2026.9.0, huggingface-hub >= 1.31), then one import of everything the runtime uses
# A failure here is reported, not fatal: the steps still run and record what fails, so one
# scarce GPU session shows as much as it can.
"$py" - <<'PY' || echo "set-up: an import failed (versions above); steps that need it will fail"
import importlib.metadata as m
print("set-up:", ", ".join(f"{n} {m.version(n)}" for n in (
    "torch", "transformers", "accelerate", "peft", "pyarrow", "pandas", "fsspec",
    "huggingface-hub", "typing-extensions", "trl", "datasets", "pydantic", "gguf")))
import datasets, trl, pydantic, lark, re2, jsonschema  # noqa
from trl import SFTTrainer, RewardTrainer, DPOTrainer, GRPOTrainer, RLOOTrainer  # noqa
import constlang.runtime.runner  # noqa
from constlang.cli.train import require_training_extras
require_training_extras()  # what `constlang train` checks before it starts (gguf too)
PY
out="${1:-${OUT:+$OUT/gpu}}"
out="${out:-gpu-check}"
exec "$py" benchmarks/gpu/run.py --device cuda --out "$out" "${@:2}"
