"""The lint path never imports torch, transformers, trl or datasets."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
HEAVY = ("torch", "transformers", "trl", "datasets", "accelerate", "peft")

SCRIPT = f"""
import sys
from click.testing import CliRunner
from constlang.cli import cli
runner = CliRunner()
for args, status in ((["lint", "constitutions", "--output-format", "sarif"], 0),
                     (["rule", "--all"], 0),
                     (["lint", "tests/lint/fixtures/project", "--diff", "--unsafe-fixes"], 1)):
    result = runner.invoke(cli, args)
    assert result.exit_code == status, (args, result.output)
heavy = sorted(m for m in sys.modules if m.split(".")[0] in {HEAVY!r})
print(",".join(heavy))
"""


def test_lint_and_rule_import_no_training_library():
    out = subprocess.run([sys.executable, "-c", SCRIPT], cwd=ROOT, capture_output=True,
                         text=True, check=True)
    assert out.stdout.strip() == "", f"imported: {out.stdout.strip()}"
