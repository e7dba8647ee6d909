"""Shared CLI plumbing: lazily built factory/manager, output helpers, error handling."""

from __future__ import annotations

import functools
import json
import sys
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from langgraph_ckpt_config.errors import CkptError, InvalidInputError

console = Console(highlight=False)
err_console = Console(stderr=True, highlight=False)


@dataclass
class CliState:
    config_path: str | None = None
    manager_name: str | None = None
    json_output: bool = False
    _factory: Any = field(default=None, repr=False)

    def factory(self):
        if self._factory is None:
            from langgraph_ckpt_config.factory import CheckpointManagerFactory

            self._factory = CheckpointManagerFactory(self.config_path)
        return self._factory

    def manager(self, name: str | None = None, *, existing: bool = True):
        """The named (or default) manager. ``existing``: the command only reads or changes
        what is stored, so a SQLite database that did not exist (a mistyped path, or the wrong
        working directory for a relative one) is an error, not an empty store; the empty file
        just created is removed again. Commands that write new data pass ``existing=False``."""
        manager = self.factory().create_manager(name or self.manager_name)
        if existing and getattr(manager, "created_database", False):
            path = manager.path
            self.factory().close()
            self._factory = None
            for suffix in ("", "-wal", "-shm", "-journal"):
                Path(f"{path}{suffix}").unlink(missing_ok=True)
            raise InvalidInputError(
                f"no SQLite database at {path} (manager {manager.name!r}); check its database_path "
                "(relative paths are resolved from the current directory)"
            )
        return manager

    def close(self) -> None:
        if self._factory is not None:
            self._factory.close()


def state(ctx: typer.Context) -> CliState:
    obj = ctx.find_root().obj
    return obj if isinstance(obj, CliState) else CliState()


def command(fn: Callable) -> Callable:
    """Turn package errors into one line on stderr and exit code 1; always close managers."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        ctx = next((a for a in list(args) + list(kwargs.values()) if isinstance(a, typer.Context)), None)
        try:
            return fn(*args, **kwargs)
        except CkptError as exc:
            from langgraph_ckpt_config.config.redact import redact_url

            err_console.print(f"error: {redact_url(str(exc))}", markup=False, soft_wrap=True)
            raise typer.Exit(1) from None
        except OSError as exc:  # a file the operator named: a directory, a missing folder, no permission
            where = f": {exc.filename}" if exc.filename else ""
            err_console.print(f"error: {exc.strerror or exc}{where}", markup=False, soft_wrap=True)
            raise typer.Exit(1) from None
        finally:
            if ctx is not None:
                state(ctx).close()

    return wrapper


def emit(ctx: typer.Context, data: Any, *, title: str | None = None, columns: Sequence[str] | None = None,
         rows: Iterable[Sequence[Any]] | None = None) -> None:
    """JSON under ``--json``; otherwise a table (when rows are given) or a short text."""
    if state(ctx).json_output:
        sys.stdout.write(json.dumps(data, indent=2, default=str, ensure_ascii=False) + "\n")
        return
    if rows is not None and columns is not None:
        table = Table(title=title)
        for col in columns:
            table.add_column(col, overflow="fold")
        for row in rows:
            table.add_row(*[escape(_printable("" if v is None else str(v))) for v in row])
        console.print(table)
    else:
        console.print(data if isinstance(data, str) else json.dumps(data, indent=2, default=str), markup=False)


def _printable(text: str) -> str:
    """Control characters other than newline and tab (a NUL or an escape sequence inside a
    thread id) shown escaped, never sent to the terminal."""
    if text.isprintable():
        return text
    return "".join(ch if ch.isprintable() or ch in "\n\t" else repr(ch)[1:-1] for ch in text)


def progress(ctx: typer.Context, total: int, description: str):
    """A rich progress bar on a terminal; silent under ``--json`` or when not a TTY."""
    from contextlib import nullcontext

    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    if state(ctx).json_output or not sys.stderr.isatty():

        class _Quiet:
            def advance(self, n: int = 1) -> None:
                pass

        return nullcontext(_Quiet())

    class _Bar:
        def __init__(self) -> None:
            self.progress = Progress(
                TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(), console=err_console
            )
            self.task = self.progress.add_task(description, total=total)

        def __enter__(self):
            self.progress.__enter__()
            return self

        def __exit__(self, *exc):
            return self.progress.__exit__(*exc)

        def advance(self, n: int = 1) -> None:
            self.progress.advance(self.task, n)

    return _Bar()
