"""Hostile inputs, by class of issue #11: each a small project, a command line and what must
never show in its output. tests/test_hostile.py runs every case under the CLI contract."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

SECRET = "TOP-SECRET-OUTSIDE-THE-PROJECT"


@dataclass
class Case:
    """One hostile input: files to write, an optional set-up, the command and stdin."""

    name: str
    argv: list[str]
    files: dict[str, str | bytes] = field(default_factory=dict)
    setup: Callable[[Path], None] | None = None
    stdin: bytes = b""
    forbid: tuple[str, ...] = ()  # text that must not appear in stdout or stderr
    need: tuple[str, ...] = ()  # text that must appear in stdout or stderr
    expect: tuple[int, ...] = (0, 1, 2)
    after: Callable[[Path], None] | None = None  # checks on the files once the command ran
    known_gap: str | None = None  # an open part of issue #11: the case is expected to fail
    max_rss_mb: int = 600  # peak resident memory the command may reach


def constitution(template: str = "{{ prompt }} {{ response }} {{ principle.critique }}",
                 params: str = "prompt, response, principle", extra: str = "",
                 dataset: str = "data.jsonl") -> str:
    """A checkable constitution whose critique step renders `template`."""
    return f'''constlang 1
constitution "hostile" {{ version = "0.1.0" }}
principle p {{
  critique = "Say what is wrong with the reply."
  revision = "Rewrite the reply."
}}
model m {{ source = "embedded:smollm2-135m-instruct" max_new_tokens = 16 }}
dataset d {{ path = "{dataset}" }}
template t({params}) """
{template}
"""
stage critique_revision {{ model = m prompts = d critique_template = t }}
{extra}
'''


DATA = '{"prompt": "hello"}\n'
RENDER = ["render", "main.const", "--stage", "critique_revision"]
LINT = ["lint", "--isolated", "main.const"]


def _tpl(name: str, body: str, forbid: tuple[str, ...] = ("0x", "<function", "<class",
                                                             "object at", "<bound")
         ) -> list[Case]:
    """A template case under every command that checks or renders templates."""
    files = {"main.const": constitution(body), "data.jsonl": DATA}
    return [Case(f"{name}-{cmd[0]}", cmd, files, forbid=forbid)
            for cmd in (["check", "main.const"], LINT, RENDER, ["plan", "main.const"])]


# issue #17: a format that prints a value many times, or pads each field to a width taken
# from an argument, was refused only after it had been built (gigabytes)
FORMAT_BOMBS = {
    "brace-repeat": "{% set s = 'x' * 3000000 %}{{ ('{0}' * 1000).format(s) }}",
    "brace-nested-width": "{{ ('{0:{1}}' * 5000).format('x', 99999) }}",
    "brace-keyword-width": "{{ ('{a:>{w}}' * 5000).format(a='x', w=99999) }}",
    "brace-precision": "{{ ('{0:.{1}f}' * 5000).format(1.5, 99999) }}",
    "brace-repr": "{% set s = 'x' * 3000000 %}{{ ('{0!r}' * 1000).format(s) }}",
    "brace-map": "{% set s = 'x' * 3000000 %}{{ ('{a!a}' * 1000).format_map({'a': s}) }}",
    "brace-markup": "{% set s = 'x' * 3000000 %}{{ (('{0}' * 1000)|safe).format(s) }}",
    "percent-key": "{{ ('%(a)s' * 1000) % {'a': 'x' * 3000000} }}",
    "percent-filter": "{{ ('%(a)-9s' * 1000)|format(a='x' * 3000000) }}",
    "percent-star": "{{ ('%-*d' * 5000) % ((99999, 1) * 5000) }}",
}


def _format_bombs() -> list[Case]:
    """Each format bomb under the commands that render templates (issue #17)."""
    out = []
    for name, body in FORMAT_BOMBS.items():
        files = {"main.const": constitution(body + "{{ prompt }}{{ response }}{{ principle }}"),
                 "data.jsonl": DATA}
        out += [Case(f"format-{name}-{cmd[0]}", cmd, files, max_rss_mb=250)
                for cmd in (RENDER, ["lint", "--isolated", "--fix", "main.const"],
                            ["train", "main.const", "--dry-run"])]
    return out


def _outside(root: Path) -> None:
    outside = root.parent / "outside"
    outside.mkdir(exist_ok=True)
    (outside / "x.const").write_text(f'constlang 1\nprinciple leak {{ critique = "{SECRET}" '
                                     'revision = "r" }\n', "utf-8")
    (outside / "rows.jsonl").write_text(f'{{"prompt": "{SECRET}"}}\n', "utf-8")


def _fifo(name: str) -> Callable[[Path], None]:
    def make(root: Path) -> None:
        os.mkfifo(root / name)
    return make


def _symlink(name: str, target: str) -> Callable[[Path], None]:
    def make(root: Path) -> None:
        (root / name).symlink_to(target)
    return make


BAD_NAME = os.fsdecode(b"bad\xff\xfe.const")  # not UTF-8: Python holds it as surrogates


def _bad_names(root: Path) -> None:
    """Files whose names are not UTF-8, at the top and in a folder below."""
    text = b'constlang 1\nprinciple p { critique = " c " revision = "r" }\n'
    (root / BAD_NAME).write_bytes(text)
    (root / "sub").mkdir()
    (root / "sub" / os.fsdecode(b"\xe9t\xe9.const")).write_bytes(text)


def _loop(root: Path) -> None:
    (root / "a.const").symlink_to("b.const")
    (root / "b.const").symlink_to("a.const")


def _kept_link(root: Path) -> None:
    link = root / "out.json"
    assert link.is_symlink(), "the link was replaced by a regular file"
    assert (root / "real.json").read_text("utf-8").startswith("{"), "the target was not written"


def _kept_source_link(root: Path) -> None:
    assert (root / "main.const").is_symlink(), "the link was replaced by a regular file"


def _chain(n: int) -> dict[str, str | bytes]:
    files: dict[str, str | bytes] = {f"c{i}.const": f'constlang 1\nimport "c{i + 1}.const"\n'
                                     for i in range(n)}
    files[f"c{n}.const"] = 'constlang 1\nprinciple last { critique = "c" revision = "r" }\n'
    files["main.const"] = files.pop("c0.const")
    return files


def _stages(n: int) -> str:
    out = ['constlang 1\nconstitution "s" { version = "0.1.0" }\n'
           'principle p { critique = "c" revision = "r" }\n'
           'model m { source = "embedded:smollm2-135m-instruct" }\n'
           'dataset d { path = "data.jsonl" }\n'
           'stage critique_revision { model = m prompts = d }\n'
           'stage s0 { kind = sft from = critique_revision }\n']
    out += [f"stage s{i} {{ kind = sft from = s{i - 1} }}\n" for i in range(1, n)]
    return "".join(out)


def _valid_chain(pairs: int, cycle: bool = False) -> str:
    """A VALID chain of 2·pairs stages (feedback → dpo → feedback → ...), declared last
    first, so that ordering them walks the whole chain; with `cycle` its ends meet."""
    head = ('constlang 1\nconstitution "chain" { version = "0.1.0" }\n'
            'principle p { critique = "c" revision = "r" }\n'
            'question q { text = "Which reply is better?" }\n'
            'model m { source = "embedded:smollm2-135m-instruct" }\n'
            'dataset d { path = "data.jsonl" }\n'
            'stage critique_revision { model = m prompts = d }\n'
            'stage sft { from = critique_revision }\n')
    stages, before = [], f"o{pairs - 1}" if cycle else "sft"
    for i in range(pairs):
        stages.append(f"stage f{i} {{ kind = feedback policy = {before} judge = m "
                      "prompts = d }\n")
        stages.append(f"stage o{i} {{ kind = dpo from = f{i} policy = sft }}\n")
        before = f"o{i}"
    return head + "".join(reversed(stages))


UNDECLARED_20K = " ".join(f"{{{{ v{i} }}}} {{{{ self }}}}" for i in range(20000))
MISSPELLED = "constlang 1\n" + "".join(
    f'principle p{i} {{ critique = "c{i}" revision = "r" tagz = ["x"] }}\n' for i in range(300))

# thousands of overrides of names that were never imported: one suggestion index per kind
OVERRIDES_LIB = "constlang 1\n" + "".join(
    f'principle p{i:05d}x {{ critique = "c"  revision = "r" }}\n' for i in range(3000))
MISSPELLED_OVERRIDES = 'constlang 1\nimport "./lib.const"\n' + "".join(
    f'override principle q{i:05d}y {{ critique = "c2" }}\n' for i in range(3000))

CASES: list[Case] = [
    # 1. project root
    Case("std-climbs-out", ["compile", "main.const"], {
        "main.const": 'constlang 1\nimport "std/../../../../../../../../../../tmp/x.const"\n'
                      'import "std/../../../outside/x.const"\n'},
         setup=_outside, forbid=(SECRET,), expect=(1,)),
    Case("import-outside", ["check", "main.const"], {
        "main.const": 'constlang 1\nimport "../outside/x.const"\n'},
         setup=_outside, forbid=(SECRET,), expect=(1,)),
    Case("import-through-symlink", ["compile", "main.const"], {
        "main.const": 'constlang 1\nimport "inside.const"\n'},
         setup=lambda r: (_outside(r), _symlink("inside.const", "../outside/x.const")(r)),
         forbid=(SECRET,), expect=(1,)),
    Case("dataset-outside-render", RENDER, {
        "main.const": constitution(dataset="../outside/rows.jsonl")},
         setup=_outside, forbid=(SECRET,), expect=(1,)),
    Case("dataset-absolute-render", RENDER, {
        "main.const": constitution(dataset="/etc/passwd")}, forbid=("root:",), expect=(1,)),
    # 2. Python internals
    *_tpl("self", "{{ self }} {{ prompt }} {{ response }} {{ principle }}"),
    *_tpl("globals", "{{ range }}{{ dict }}{{ namespace }}{{ prompt }}{{ response }}"
          "{{ principle }}"),
    *_tpl("loop", "{% for x in [1] %}{{ loop }}{{ loop.cycle }}{% endfor %}{{ prompt }}"
          "{{ response }}{{ principle }}"),
    *_tpl("macro", "{% macro m() %}x{% endmacro %}{{ m }}{{ prompt }}{{ response }}"
          "{{ principle }}"),
    *_tpl("method", "{{ prompt.upper }}{{ principle.tags.append }}{{ response }}"
          "{{ namespace() }}{{ principle.items }}"),
    *_tpl("caller", "{% macro m() %}{{ caller }}{{ varargs }}{{ kwargs }}{% endmacro %}"
          "{% call m() %}x{% endcall %}{{ prompt }}{{ response }}{{ principle }}"),
    # 3. resource limits
    *_tpl("percent-star", "{{ '%*s' % (999999999, 'x') }}{{ prompt }}{{ response }}"
          "{{ principle }}"),
    *_tpl("nested-format", "{{ '{:{}}'.format('x', 999999999) }}{{ prompt }}{{ response }}"
          "{{ principle }}"),
    *_tpl("replace-growth", "{% set a = 'x' * 1000 %}{% set b = a|replace('x', a) %}"
          "{% set c = b|replace('x', a) %}{{ c|length }}{{ prompt }}{{ response }}"
          "{{ principle }}"),
    *_tpl("doubling", "{% set ns = namespace(s='xx') %}{% for i in range(64) %}"
          "{% set ns.s = ns.s ~ ns.s %}{% endfor %}{{ ns.s|length }}{{ prompt }}{{ response }}"
          "{{ principle }}"),
    *_tpl("list-doubling", "{% set ns = namespace(s=[1]) %}{% for i in range(64) %}"
          "{% set ns.s = ns.s + ns.s %}{% endfor %}{{ ns.s|length }}{{ prompt }}{{ response }}"
          "{{ principle }}"),
    *_tpl("nested-loops", "{% for i in range(90000) %}{% for j in range(90000) %}{% endfor %}"
          "{% endfor %}{{ prompt }}{{ response }}{{ principle }}"),
    *_tpl("macro-fanout", "{% macro a() %}{{ 'x' * 90000 }}{% endmacro %}"
          "{% macro b() %}{% for i in range(90000) %}{{ a() }}{% endfor %}{% endmacro %}"
          "{{ b() }}{{ prompt }}{{ response }}{{ principle }}"),
    *_tpl("squaring", "{% set ns = namespace(n=3) %}{% for i in range(40) %}"
          "{% set ns.n = ns.n * ns.n %}{% endfor %}{{ ns.n }}{{ prompt }}{{ response }}"
          "{{ principle }}"),
    *_tpl("recursion", "{% macro r(n) %}{{ r(n) }}{% endmacro %}{{ r(1) }}{{ prompt }}"
          "{{ response }}{{ principle }}"),
    *_format_bombs(),
    *_tpl("join-growth", "{{ (range(90000)|list|join('x' * 90000))|length }}{{ prompt }}"
          "{{ response }}{{ principle }}"),
    # 4. special files and sizes
    Case("dataset-dev-zero", RENDER, {"main.const": constitution(dataset="/dev/zero")}),
    Case("dataset-dev-zero-plan", ["plan", "main.const"],
         {"main.const": constitution(dataset="/dev/zero")}),
    Case("dataset-fifo", RENDER, {"main.const": constitution()}, setup=_fifo("data.jsonl")),
    Case("dataset-fifo-lint", LINT, {"main.const": constitution()}, setup=_fifo("data.jsonl")),
    Case("fifo-file-check", ["check", "f.const"], setup=_fifo("f.const"), expect=(1, 2)),
    Case("fifo-in-folder", ["lint", "--isolated", "."], {"main.const": constitution(),
                                                         "data.jsonl": DATA},
         setup=_fifo("f.const"), expect=(1,)),
    Case("fifo-fmt", ["fmt", "--check", "."], setup=_fifo("f.const"), expect=(2,)),
    Case("fifo-import", ["check", "main.const"], {"main.const": 'constlang 1\nimport "f.const"\n'},
         setup=_fifo("f.const"), expect=(1,)),
    Case("dev-zero-import", ["check", "main.const"], {
        "main.const": 'constlang 1\nimport "z.const"\n'}, setup=_symlink("z.const", "/dev/zero"),
         expect=(1,)),
    # 10 MB inputs: memory in proportion to the text (about 100 MB where it was gigabytes)
    *[Case(f"huge-string-{cmd[0]}", cmd, files={
        "main.const": 'constlang 1\nprinciple p { critique = "' + "word " * 2_000_000 +
                      '" revision = "r" }\n'}, max_rss_mb=300)
      for cmd in (LINT, ["check", "main.const"], ["fmt", "--check", "main.const"])],
    Case("huge-long-string", LINT, {
        "main.const": 'constlang 1\nprinciple p { critique = """\n' + 'a "quoted" word\n' *
                      600_000 + '""" revision = "r" }\n'}, max_rss_mb=300),
    Case("huge-escapes", LINT, {
        "main.const": 'constlang 1\nprinciple p { critique = "' + "\\n" * 4_000_000 +
                      '" revision = "r" }\n'}, max_rss_mb=300),
    Case("huge-bad-escapes", ["check", "main.const"], {
        "main.const": 'constlang 1\nprinciple p { critique = "' + "\\q" * 3_000_000 +
                      '" revision = "r" }\n'}, expect=(1,), max_rss_mb=300),
    Case("huge-surrogate-escapes", ["check", "main.const"], {
        "main.const": 'constlang 1\nprinciple p { critique = "' + "\\ud800" * 1_500_000 +
                      '" revision = "r" }\n'}, expect=(1,), max_rss_mb=300),
    # 5. writes
    Case("compile-o-symlink", ["compile", "main.const", "-o", "out.json"],
         {"main.const": constitution(), "data.jsonl": DATA, "real.json": ""},
         setup=_symlink("out.json", "real.json"), expect=(0,), after=_kept_link),
    Case("lint-o-symlink", ["lint", "--isolated", "main.const", "-o", "out.json",
                            "--format", "json"],
         {"main.const": constitution(), "data.jsonl": DATA, "real.json": ""},
         setup=_symlink("out.json", "real.json"), after=_kept_link),
    Case("compile-o-dev-null", ["compile", "main.const", "-o", "/dev/null"],
         {"main.const": constitution(), "data.jsonl": DATA}, expect=(0,)),
    Case("fmt-symlink", ["fmt", "main.const"],
         {"real.const": 'constlang 1\nprinciple p {critique="c" revision="r"}\n'},
         setup=_symlink("main.const", "real.const"), expect=(0,), after=_kept_source_link),
    Case("fix-symlink", ["lint", "--isolated", "--fix", "main.const"],
         {"real.const": 'constlang 1\nprinciple P { critique = " c " revision = "r" }\n'},
         setup=_symlink("main.const", "real.const"), after=_kept_source_link),
    # 6. internal errors
    Case("lone-surrogate", ["compile", "main.const"], {
        "main.const": 'constlang 1\nprinciple p { critique = "\\ud800" revision = "r" }\n'}),
    Case("lone-surrogate-row", RENDER, {"main.const": constitution(),
                                        "data.jsonl": '{"prompt": "\\ud800"}\n'}),
    Case("huge-int-float", ["compile", "main.const"], {
        "main.const": constitution(extra="").replace("revision = \"Rewrite the reply.\"",
                                                     "revision = \"r\" weight = 1" + "9" * 400)},
         expect=(1,)),
    # a file name that is not UTF-8: a located E003 (check, lint) or one line (fmt), named
    # with \xNN escapes; and the same when a folder scan finds it
    *[Case(f"non-utf8-name-{'-'.join(cmd[:2])}", cmd, setup=_bad_names, expect=(1, 2),
           forbid=("\\udc", "UnicodeEncodeError"))
      for cmd in (["check", BAD_NAME], ["lint", "--isolated", BAD_NAME], ["fmt", BAD_NAME],
                  ["compile", BAD_NAME], ["lint", "--isolated", "--fix", BAD_NAME],
                  ["check", "."], ["lint", "--isolated", "--format", "json", "."],
                  ["fmt", "--check", "."])],
    Case("long-import-path", ["check", "main.const"], {
        "main.const": 'constlang 1\nimport "' + "a/" * 3000 + 'x.const"\n'}, expect=(1,)),
    Case("long-import-name", ["check", "main.const"], {
        "main.const": 'constlang 1\nimport "' + "a" * 5000 + '.const"\n'}, expect=(1,)),
    Case("symlink-loop-import", ["check", "main.const"], {
        "main.const": 'constlang 1\nimport "a.const"\n'}, setup=_loop, expect=(1,)),
    Case("symlink-loop-arg", ["check", "a.const"], setup=_loop, expect=(1, 2)),
    Case("stage-chain", ["compile", "main.const"], {"main.const": _stages(3000),
                                                     "data.jsonl": DATA}),
    *[Case(f"valid-stage-chain-{cmd[0]}", cmd, {"main.const": _valid_chain(1500),
                                                 "data.jsonl": DATA}, expect=(0,))
      for cmd in (["check", "main.const"], ["compile", "main.const", "-o", "plan.json"],
                  ["lint", "--isolated", "--select", "CL1,CL3", "main.const"])],
    Case("long-stage-cycle", ["check", "main.const"], {"main.const": _valid_chain(1500, True),
                                                        "data.jsonl": DATA},
         forbid=("o700 →",), expect=(1,)),
    Case("template-nesting", ["check", "main.const"], {
        "main.const": constitution("{% if 1 %}" * 3000 + "{% endif %}" * 3000 +
                                   "{{ prompt }}{{ response }}{{ principle }}")}),
    Case("template-parens", ["check", "main.const"], {
        "main.const": constitution("{{ " + "(" * 5000 + "1" + ")" * 5000 + " }}"
                                   "{{ prompt }}{{ response }}{{ principle }}")}),
    Case("binary-data", RENDER, {"main.const": constitution(),
                                 "data.jsonl": b"\xff\xfe\x00\x01binary\n"}),
    Case("binary-data-lint", LINT, {"main.const": constitution(),
                                    "data.jsonl": b"\xff\xfe\x00\x01binary\n"}),
    Case("markup-name", ["render", "main.const", "--stage", "[bold red]x[/]"],
         {"main.const": constitution(), "data.jsonl": DATA}, expect=(2,)),
    Case("markup-row", RENDER, {"main.const": constitution(),
                                "data.jsonl": '{"prompt": "[bold]x[/bold] [/] [link=x]"}\n'}),
    Case("markup-run-dir", ["train", "main.const", "--dry-run", "--run-dir", "[/]x[bold"],
         {"main.const": constitution(), "data.jsonl": DATA}),
    Case("baseline-nan", ["lint", "--isolated", "main.const", "--baseline", "b.json"], {
        "main.const": constitution(), "data.jsonl": DATA,
        "b.json": '{"format_version": 1, "findings": [{"file": "main.const", "code": "CL101", '
                  '"message": "m", "line_hash": "h", "count": NaN}]}'}),
    Case("baseline-inf", ["lint", "--isolated", "main.const", "--baseline", "b.json"], {
        "main.const": constitution(), "data.jsonl": DATA,
        "b.json": '{"format_version": 1, "findings": [{"file": "main.const", "code": "CL101", '
                  '"message": "m", "line_hash": "h", "count": Infinity}]}'}),
    # 8. input checks
    Case("nul-late", ["check", "main.const"], {
        "main.const": "constlang 1\n# " + "x" * 20000 + "\n\x00\n"}, expect=(1,)),
    Case("fmt-stdin-nul", ["fmt", "-"], stdin=b"constlang 1\n\x00\n", expect=(2,)),
    Case("fmt-stdin-bad-utf8", ["fmt", "-"], stdin=b"constlang 1\n# \xff\n", expect=(2,)),
    Case("long-chain", ["check", "main.const"], _chain(400), expect=(0,)),
    # issue #17: 600 files in a chain were "nesting is too deep to parse"; up to 1,000 resolve
    *[Case(f"long-chain-1000-{cmd[0]}", cmd, _chain(999), expect=(0,))
      for cmd in (["check", "main.const"], ["compile", "main.const", "-o", "plan.json"],
                  ["lint", "--isolated", "main.const"])],
    Case("too-long-chain", ["check", "main.const"], _chain(1000), expect=(1,),
         forbid=("nesting", "c500.const")),
    # 9. cost
    Case("many-misspellings", ["check", "main.const"], {"main.const": MISSPELLED}, expect=(1,)),
    Case("many-misspelled-overrides", ["check", "main.const"],
         {"main.const": MISSPELLED_OVERRIDES, "lib.const": OVERRIDES_LIB}, expect=(1,)),
    Case("many-undeclared-one-line", ["check", "main.const"], {
        "main.const": constitution(" ".join(f"{{{{ v{i} }}}}" for i in range(2000)) +
                                   "{{ prompt }}{{ response }}{{ principle }}")}, expect=(1,)),
    # issue #17: 20,000 names on one 300 kB line took 34 s (each diagnostic searched the line)
    *[Case(f"many-undeclared-20k-{cmd[0]}", cmd, {
        "main.const": constitution(UNDECLARED_20K + "{{ prompt }}{{ response }}{{ principle }}")},
           expect=(1,)) for cmd in (["check", "main.const"], LINT)],
    Case("many-undeclared-20k-one-line-string", ["check", "main.const"], {
        "main.const": constitution().replace('"""\n{{ prompt }}', '"\\u00e9\\t' + UNDECLARED_20K
                                             + ' {{ prompt }}').replace('}}\n"""', '}}"')},
         expect=(1,)),
    Case("identical-principles", LINT, {"main.const": "constlang 1\n" + "".join(
        f'principle p{i} {{ critique = "say what is wrong with this reply please" '
        'revision = "rewrite it" }\n' for i in range(2000))}),
    # 10. messages
    Case("long-line-error", ["check", "main.const"], {
        "main.const": "constlang 1\n" + "# " + "x" * 1_000_000 + "\nprinciple p { ! }\n"},
         expect=(1,)),
    Case("long-line-error-end", ["check", "main.const"], {
        "main.const": "constlang 1\nprinciple p { critique = \"" + "x" * 1_000_000 + "\" ! }\n"},
         expect=(1,)),
    Case("nul-import", ["check", "main.const"], {
        "main.const": 'constlang 1\nimport "a\\u0000.const"\n'}, forbid=("outside",),
         expect=(1,)),
]


# 6b. data files (issue #17): a bad row is one line naming file:line and exit 1, found before
# any model loads; nothing is left "running". Each command reads rows.jsonl (data.jsonl for
# train's own dataset) holding a good row, then the bad one on line 2.
DATA_EXTRA = '''question better { text = "Which reply is better?" }
stage feedback { policy = m judge = m prompts = d questions = [better] }
stage evaluate { baseline = m judge = m harmful = d }
'''
DATA_COMMANDS = {  # name: (argv, the file read, the fields of a good row)
    "judge-check": (["judge-check", "main.const", "--pairs", "rows.jsonl"], "rows.jsonl",
                    '"prompt": "p", "better": "b", "worse": "w"'),
    "eval": (["eval", "main.const", "--prompts", "rows.jsonl", "--device", "cpu"],
             "rows.jsonl", '"prompt": "p"'),
    "train": (["train", "main.const", "--stages", "critique_revision", "--device", "cpu"],
              "data.jsonl", '"prompt": "p"'),
}
BAD_FIELDS = {  # name: a field that breaks the row
    "huge-int": '"id": ' + "9" * 5000,
    "huge-negative-nested": '"meta": {"scores": [1, -' + "9" * 5000 + "]}",
    "huge-exponent": '"score": 1e999999',
    "nan": '"score": NaN',
    "infinity-in-list": '"score": [-Infinity]',
    "deep-nesting": '"x": ' + "[" * 50_000 + "]" * 50_000,
}


def _nothing_running(root: Path) -> None:
    for manifest in root.rglob("manifest.json"):
        assert '"running"' not in manifest.read_text("utf-8"), f"{manifest} says running"


def _long_row(name: str, fields: str, size: int, newline: bool) -> Callable[[Path], None]:
    """Write `name`: a good row, then one of more than `size` bytes (written in blocks)."""
    def make(root: Path) -> None:
        with (root / name).open("wb") as fh:
            fh.write(f'{{{fields}}}\n{{{fields}, "long": "'.encode())
            for _ in range(size // (1 << 20)):
                fh.write(b"x" * (1 << 20))
            fh.write(b'"}' + (b"\n" if newline else b""))
    return make


def _data_cases() -> list[Case]:
    cases = []
    for cmd, (argv, name, fields) in DATA_COMMANDS.items():
        base: dict[str, str | bytes] = {
            "main.const": constitution(extra=DATA_EXTRA), "data.jsonl": DATA, "rows.jsonl": ""}
        good = f"{{{fields}}}\n"
        rows: dict[str, str | bytes] = {
            bad: f"{good}{{{fields}, {field}}}\n" for bad, field in BAD_FIELDS.items()}
        rows["not-utf8"] = good.encode() + b'{"prompt": "caf\xe9", "better": "b"}\n'
        for bad, content in rows.items():
            cases.append(Case(f"data-{bad}-{cmd}", argv, {**base, name: content}, expect=(1,),
                              need=(f"{name}:2: ",), after=_nothing_running, max_rss_mb=400))
        for bad, size, newline in (("line-5mib", 5 << 20, True),
                                   ("line-5mib-at-eof", 5 << 20, False),
                                   ("line-100mb", 100 << 20, True)):
            if bad == "line-100mb" and cmd != "eval":  # the reported case, once
                continue
            cases.append(Case(f"data-{bad}-{cmd}", argv, base, expect=(1,),
                              setup=_long_row(name, fields, size, newline),
                              need=(f"{name}:2: a line longer than 4 MiB",),
                              after=_nothing_running, max_rss_mb=400))
    # 9. rich markup in a row's id: shown as written by the dry run's titles
    for ident in ("[/x]", "[bold]x", "[link=https://example.com]x", "[/]", "x[/bold red]"):
        row = '{"prompt": "p", "id": "' + ident + '"}\n'
        cases.append(Case(f"markup-id-dry-run-{ident}", ["train", "main.const", "--dry-run"],
                          {"main.const": constitution(extra=DATA_EXTRA), "data.jsonl": row},
                          expect=(0,), need=(f"prompt {ident} ·",)))
    return cases


CASES += _data_cases()
