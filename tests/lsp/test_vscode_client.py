"""The server as VS Code's client library sees it: editors/vscode/test/smoke.js drives
`constlang lsp` with vscode-languageserver-protocol (the layer vscode-languageclient is built
on) — diagnostics, hover, completion, formatting, a fix. Needs node and `npm ci` in
editors/vscode (.ci/run does both when npm is present); skipped otherwise."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("pygls")
EXTENSION = Path(__file__).resolve().parents[2] / "editors" / "vscode"
MAIN = '''constlang 1

constitution "smoke" {
  version = "0.1.0"
}

principle helpful {
  critique = "Where could the reply have helped more?"
  revision = "Rewrite the reply so it helps more."
}

model base {
  source = "embedded:smollm2-135m-instruct"
}

dataset prompts {
  path = "prompts.jsonl"
}

stage critique_revision {
  model = base
  prompts = prompts
  principles = [helpfull]
}
'''


@pytest.mark.skipif(shutil.which("node") is None, reason="node is not installed")
@pytest.mark.skipif(not (EXTENSION / "node_modules" / "vscode-languageclient").is_dir(),
                    reason="run `npm ci` in editors/vscode first")
def test_vscode_protocol_client_gets_diagnostics_hover_completion_and_formatting(tmp_path):
    (tmp_path / "main.const").write_text(MAIN, "utf-8")
    (tmp_path / "prompts.jsonl").write_text('{"prompt": "hi"}\n', "utf-8")
    done = subprocess.run(
        ["node", str(EXTENSION / "test" / "smoke.js"), str(tmp_path), "--",
         sys.executable, "-m", "constlang", "lsp"],
        capture_output=True, text=True, timeout=120, cwd=EXTENSION)
    assert done.returncode == 0, done.stderr[-3000:]
    seen = json.loads(done.stdout.strip().splitlines()[-1])
    assert seen["server"]["name"] == "constlang"
    assert "E101" in seen["first"]
    assert not any(c.startswith("E") for c in seen["after_fix"]), seen
    assert "errors.md#e101" in seen["href"]["href"]
    assert seen["hover"] == "**model `base`**"  # smoke.js checked it names the source
    assert seen["completion"] >= 1
    assert seen["formatting"] >= 1  # the stage's `=` signs are not aligned
