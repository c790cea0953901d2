"""CLI: the `constlang` group, every command registered from one tuple, and exit statuses.

Exit status: 0 ok, 1 findings or failed work, 2 usage errors, 3 internal errors (bugs).
"""

from __future__ import annotations

import os
import sys

# Pydantic scans every installed distribution for plugins when the first model class is built
# (about 12 ms of a `check`); constlang's models are internal and want none. A user's own
# setting of the variable wins.
os.environ.setdefault("PYDANTIC_DISABLE_PLUGINS", "__all__")

import click  # noqa: E402

from constlang import __version__  # noqa: E402
from constlang.cli import check, fmt, judge_check, lint, lsp, plan, render, rule, schema, train  # noqa: E402
from constlang.cli import compile as compile_  # noqa: E402
from constlang.cli import eval as eval_  # noqa: E402
from constlang.cli.shared import HELP_OPTIONS, report_error  # noqa: E402
from constlang.errors import EXIT_OK, ConstlangError, InternalError  # noqa: E402

__all__ = ["COMMANDS", "cli", "main"]


@click.group(context_settings=HELP_OPTIONS)
@click.version_option(__version__, prog_name="constlang")
def cli() -> None:
    """constlang: write AI constitutions as code, check them, and train with them.

    The language tools (check, compile, schema, render, plan, lint, fmt) never load a model.
    """


# Every command, in the order a user meets them. A module that fails to import stops the CLI
# with its traceback rather than dropping its commands.
COMMANDS: tuple[click.Command, ...] = (
    check.check,
    compile_.compile_cmd,
    schema.schema,
    render.render_cmd,
    plan.plan_cmd,
    lint.lint,
    rule.rule,
    fmt.fmt,
    train.train,
    judge_check.judge_check,
    eval_.eval_cmd,
    lsp.lsp,
)

for _command in COMMANDS:
    cli.add_command(_command)


def main() -> None:
    """The `constlang` console script: run the CLI and turn every way out into an exit status."""
    try:
        code = cli.main(standalone_mode=False)
    except ConstlangError as exc:  # raised outside a command's body, e.g. by an option callback
        report_error(exc)
    except click.exceptions.Abort:
        click.echo("aborted", err=True)
        sys.exit(130)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        click.echo("interrupted", err=True)
        sys.exit(130)
    except BrokenPipeError:
        sys.exit(EXIT_OK)
    except Exception as exc:  # a bug in constlang, not in the input
        report_error(InternalError(f"{type(exc).__name__}: {exc}"))
    # without standalone mode click returns the status a command passed to ctx.exit
    sys.exit(code if isinstance(code, int) else EXIT_OK)
