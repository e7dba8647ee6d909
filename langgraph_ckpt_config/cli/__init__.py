"""``lgckpt``: the operator CLI.

Every command takes ``--config PATH`` and ``--manager NAME`` (same defaults as
``from_config``), prints tables for people and ``--json`` for scripts, exits
non-zero with a one-line reason on failure, and never prints a secret.

Adding commands: write ``cli/<topic>_commands.py`` that does
``from langgraph_ckpt_config.cli import app`` and registers with ``@app.command``
(or ``app.add_typer`` for a sub-group), then import it at the bottom of this
file. Shared plumbing (state, output, error handling) is in ``cli/context.py``.
"""

from __future__ import annotations

import typer

from langgraph_ckpt_config.cli.context import CliState

app = typer.Typer(
    name="lgckpt",
    help="Inspect and operate LangGraph checkpoint stores configured in YAML.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


@app.callback()
def _global_options(
    ctx: typer.Context,
    config: str = typer.Option(None, "--config", "-c", help="YAML file (default: $LANGGRAPH_CKPT_CONFIG or the shipped one)"),
    manager: str = typer.Option(None, "--manager", "-m", help="Manager name (default: $LANGGRAPH_CKPT_MANAGER or default_manager)"),
    json_output: bool = typer.Option(False, "--json", help="Machine-readable JSON output"),
) -> None:
    ctx.obj = CliState(config_path=config, manager_name=manager, json_output=json_output)


# Command modules register themselves on ``app`` when imported.
from langgraph_ckpt_config.cli import config_commands as _config_commands  # noqa: E402,F401
from langgraph_ckpt_config.cli import ops_commands as _ops_commands  # noqa: E402,F401
from langgraph_ckpt_config.cli import thread_commands as _thread_commands  # noqa: E402,F401

_GLOBAL_FLAGS = {"--json"}
_GLOBAL_OPTIONS = {"--config", "-c", "--manager", "-m"}
_LOCAL_TOO = {"--manager", "-m"}  # ``config show --manager NAME`` has its own option of the same meaning


def hoist_global_options(argv: list[str]) -> list[str]:
    """Let global options appear anywhere (``lgckpt verify --all --json``) by moving them first.

    Typer only accepts a callback's options before the command name; people
    type them after it. ``config show --manager NAME`` keeps its own option
    (same meaning, narrower effect); ``--config`` is always hoisted.
    """
    front: list[str] = []
    rest: list[str] = []
    i = 0
    while i < len(argv):
        arg = argv[i]
        name = arg.split("=", 1)[0]
        if arg in _GLOBAL_FLAGS:
            front.append(arg)
        elif name in _GLOBAL_OPTIONS and not (name in _LOCAL_TOO and rest[:2] == ["config", "show"]):
            if "=" in arg:
                front.append(arg)
            elif i + 1 < len(argv):
                front.extend([arg, argv[i + 1]])
                i += 1
            else:
                rest.append(arg)
        else:
            rest.append(arg)
        i += 1
    return front + rest


def main() -> None:
    """Console-script entry point (``lgckpt``) and ``python -m langgraph_ckpt_config.cli``."""
    import sys

    app(args=hoist_global_options(sys.argv[1:]), prog_name="lgckpt")
