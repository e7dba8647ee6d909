"""``lgckpt managers``, ``lgckpt config validate|show``, ``lgckpt keygen``.

These commands only read the configuration; none of them opens a backend, so
they work where the servers are unreachable (a CI job validating a deploy file).
"""

from __future__ import annotations

import json
import sys
from typing import Any

import typer
import yaml

from langgraph_ckpt_config.cli import app
from langgraph_ckpt_config.cli.context import command, console, emit, err_console, state
from langgraph_ckpt_config.config.loader import load_config, resolve_manager_name
from langgraph_ckpt_config.config.redact import redact_url
from langgraph_ckpt_config.errors import CkptError

config_app = typer.Typer(help="Validate and show the configuration.", no_args_is_help=True)
app.add_typer(config_app, name="config")


def _plain(data: Any) -> Any:
    """JSON-compatible data (Paths, enums, ... as strings) for both YAML and JSON output."""
    return json.loads(json.dumps(data, default=str))


@app.command("managers")
@command
def managers(ctx: typer.Context) -> None:
    """List configured managers, highest priority first (the default is marked)."""
    cfg = load_config(state(ctx).config_path)
    try:
        default = resolve_manager_name(cfg, state(ctx).manager_name)
    except CkptError:
        default = cfg.default_manager
    entries = sorted(cfg.checkpoint_managers.items(), key=lambda kv: (-kv[1].priority, kv[0]))
    data = [
        {
            "name": name,
            "default": name == default,
            "enabled": e.enabled,
            "priority": e.priority,
            "class_path": e.class_path,
            "tags": e.tags,
            "description": e.description,
            "fallback": e.fallback,
        }
        for name, e in entries
    ]
    emit(
        ctx,
        data,
        title=f"managers in {cfg.source}",
        columns=["name", "enabled", "priority", "class_path", "tags", "description"],
        rows=[
            (
                f"{d['name']} (default)" if d["default"] else d["name"],
                "yes" if d["enabled"] else "no",
                d["priority"],
                d["class_path"],
                ", ".join(d["tags"]),
                d["description"],
            )
            for d in data
        ],
    )


def _check_managers(cfg: Any) -> None:
    """Each enabled manager as it would start, short of opening it: a custom entry's backend is
    imported (its plugin files loaded when enabled) and its parameters validated by that
    backend's own model, then the manager's codec pipeline is built (which catches what only a
    combination of settings makes wrong: encryption enabled with no keys). Every problem is
    reported, each under its YAML path; no value is quoted, so no secret either."""
    from langgraph_ckpt_config.codecs import CodecPipeline
    from langgraph_ckpt_config.errors import ConfigError
    from langgraph_ckpt_config.managers.custom import CustomCheckpointManager
    from langgraph_ckpt_config.registry import builtin_name_for

    problems: list[str] = []
    for name in cfg.enabled_managers():
        entry, params = cfg.manager_parameters(name)
        where = f"checkpoint_managers.{name}.parameters"
        if builtin_name_for(entry.class_path) == "custom":
            try:
                backend_cls, raw = CustomCheckpointManager.resolve(params)
            except CkptError as exc:
                problems.append(f"{where}.backend: {exc}")
                continue
            validate_params = getattr(backend_cls, "_validate_params", None)
            if validate_params is not None:
                try:
                    params = validate_params(raw)
                except CkptError as exc:
                    problems.append(f"{where}.backend_config: {exc}")
                    continue
        try:
            CodecPipeline.from_parameters(params)
        except CkptError as exc:
            problems.append(f"{where}.{exc}")
    if problems:
        raise ConfigError("\n".join(problems))


@config_app.command("validate")
def validate(ctx: typer.Context, path: str = typer.Argument(None, help="YAML file (default: --config / env / shipped)")) -> None:
    """Validate a config file: exit 0 with a summary, or 1 with each problem on its own line."""
    st = state(ctx)
    try:
        cfg = load_config(path or st.config_path)
        _check_managers(cfg)
    except CkptError as exc:
        lines = [redact_url(line) for line in str(exc).splitlines() if line.strip()] or [type(exc).__name__]
        if st.json_output:
            sys.stdout.write(json.dumps({"valid": False, "errors": lines}, indent=2) + "\n")
        for line in lines:
            err_console.print(f"error: {line}", markup=False, soft_wrap=True)
        raise typer.Exit(1) from None
    enabled = cfg.enabled_managers()
    summary = {
        "valid": True,
        "source": cfg.source,
        "managers": sorted(cfg.checkpoint_managers),
        "enabled": enabled,
        "default_manager": cfg.default_manager,
        "rules": len(cfg.validation_rules),
    }
    if st.json_output:
        sys.stdout.write(json.dumps(summary, indent=2) + "\n")
    else:
        console.print(
            f"valid: {cfg.source} ({len(cfg.checkpoint_managers)} managers, enabled: {', '.join(enabled) or 'none'}, "
            f"default: {cfg.default_manager}, {len(cfg.validation_rules)} rules)",
            markup=False,
            soft_wrap=True,
        )


@config_app.command("show")
@command
def show(ctx: typer.Context, manager: str = typer.Option(None, "--manager", "-m", help="Only this manager")) -> None:
    """The resolved config (interpolated, defaults merged) as YAML or --json, every secret redacted."""
    st = state(ctx)
    cfg = load_config(st.config_path)
    data = cfg.redacted_dict()
    # Only an explicit --manager narrows the output; $LANGGRAPH_CKPT_MANAGER selects what runs, not what is shown.
    name = manager or st.manager_name
    if name:
        cfg.manager_entry(name)
        data = {"source": cfg.source, "checkpoint_managers": {name: data["checkpoint_managers"][name]}}
    else:
        data = {"source": cfg.source, **data}
    data = _plain(data)
    if st.json_output:
        sys.stdout.write(json.dumps(data, indent=2, ensure_ascii=False) + "\n")
    else:
        sys.stdout.write(yaml.safe_dump(data, sort_keys=False, allow_unicode=True))


@app.command("keygen")
@command
def keygen(ctx: typer.Context, key_id: str = typer.Argument("k1", help="Key id stored with each record")) -> None:
    """Print a new AES-256 key entry for client_encryption.keys (keep it secret)."""
    from langgraph_ckpt_config.codecs import generate_key_spec

    sys.stdout.write(generate_key_spec(key_id) + "\n")
