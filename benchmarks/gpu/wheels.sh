#!/usr/bin/env bash
# Prepare, on a machine with network, what the GPU check needs on a machine without it:
# wheels of the packages its image lacks (for CPython 3.12 and 3.11, manylinux x86_64; torch,
# transformers, accelerate, peft, pandas and pyarrow are already there and are not downloaded),
# TRL 1.9.2 for the PPOTrainer comparison, and the SmolLM2 tokenizer and config (the tiny and
# the 135M-shaped random models use them; the 98 MB embedded GGUF does not travel).
# Everything lands in benchmarks/gpu/wheels/ (ignored by git; carried by the device run).
# Usage: bash benchmarks/gpu/wheels.sh [PYTHON]   (PYTHON: the one whose pip downloads and
# whose constlang finds the embedded tokenizer; default python3)
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
py="${1:-python3}"
out="$here/wheels"
rm -rf "$out"
mkdir -p "$out/py312" "$out/py311" "$out/trl-1.9.2" "$out/tokenizer"
# the versions constlang's CPU suite runs with (keep one version of each)
pkgs=(trl==1.16.0 datasets==5.2.0 dill==0.4.1 multiprocess==0.70.19 lark==1.3.1
      interegular==0.3.3 pydantic==2.14.4 pydantic-core==2.50.5 annotated-types==0.8.0
      typing-inspection==0.4.5 typing-extensions==4.16.0 google-re2==1.1.20251105
      jsonschema==4.26.0 jsonschema-specifications==2025.9.1 referencing==0.37.0
      rpds-py==2026.9.1 gguf==0.19.0)
platforms=()
for n in 2_17 2_24 2_27 2_28 2_31 2_34 2_35; do platforms+=(--platform "manylinux_${n}_x86_64"); done
platforms+=(--platform manylinux2014_x86_64 --platform manylinux1_x86_64)
for v in 3.12 3.11; do
  "$py" -m pip download -q --no-deps --only-binary=:all: --python-version "$v" \
    --implementation cp "${platforms[@]}" -d "$out/py${v/./}" "${pkgs[@]}"
done
"$py" -m pip download -q --no-deps --only-binary=:all: -d "$out/trl-1.9.2" trl==1.9.2
PYTHONPATH="$root${PYTHONPATH:+:$PYTHONPATH}" "$py" - "$out/tokenizer" <<'PY'
import shutil, sys
from pathlib import Path
from constlang.runtime.models import embedded_model_dir
src, dst = embedded_model_dir(), Path(sys.argv[1])
for name in ("tokenizer.json", "tokenizer_config.json", "chat_template.jinja", "config.json",
             "generation_config.json"):
    if (src / name).exists():
        shutil.copy(src / name, dst / name)
PY
du -sh "$out"/*
echo "in all: $(du -sh "$out" | cut -f1) (the device transfer limit is 64 MiB, the repository included)"
