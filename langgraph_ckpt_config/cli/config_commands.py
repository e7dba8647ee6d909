"""``lgckpt managers``, ``lgckpt config validate|show``, ``lgckpt keygen``."""

from __future__ import annotations

import json
import sys

import typer
import yaml

from langgraph_ckpt_config.cli import app
from langgraph_ckpt_config.cli.context import command, console, emit, state
from langgraph_ckpt_config.config.loader import load_config, resolve_manager_name

config_app = typer.Typer(help="Validate and show the configuration.", no_args_is_help=True)
app.add_typer(config_app, name="config")


@app.command("managers")
@command
def managers(ctx: typer.Context) -> None:
    """List configured managers (the default is marked)."""
    cfg = load_config(state(ctx).config_path)
    try:
        default = resolve_manager_name(cfg, state(ctx).manager_name)
    except Exception:
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
        }
        for name, e in entries
    ]
    emit(
        ctx,
        data,
        title=f"managers in {cfg.source}",
        columns=["name", "enabled", "priority", "class_path", "tags", "description"],
        rows=[
            (f"{d['name']} (default)" if d["default"] else d["name"], d["enabled"], d["priority"], d["class_path"], ", ".join(d["tags"]), d["description"])
            for d in data
        ],
    )


@config_app.command("validate")
@command
def validate(ctx: typer.Context, path: str = typer.Argument(None, help="YAML file (default: --config / env / shipped)")) -> None:
    """Validate a config file: exit 0 when valid, 1 with the problem on one line."""
    cfg = load_config(path or state(ctx).config_path)
    summary = {"valid": True, "source": cfg.source, "managers": sorted(cfg.checkpoint_managers), "enabled": cfg.enabled_managers(), "default_manager": cfg.default_manager}
    if state(ctx).json_output:
        emit(ctx, summary)
    else:
        console.print(f"valid: {cfg.source} ({len(cfg.checkpoint_managers)} managers, enabled: {', '.join(cfg.enabled_managers())}, default: {cfg.default_manager})", markup=False)


@config_app.command("show")
@command
def show(ctx: typer.Context, manager: str = typer.Option(None, "--manager", "-m", help="Only this manager")) -> None:
    """The resolved config (interpolated, defaults merged), every secret redacted."""
    cfg = load_config(state(ctx).config_path)
    data = cfg.redacted_dict()
    name = manager or None
    if name:
        cfg.manager_entry(name)
        data = {"checkpoint_managers": {name: data["checkpoint_managers"][name]}}
    if state(ctx).json_output:
        sys.stdout.write(json.dumps(data, indent=2, default=str) + "\n")
    else:
        sys.stdout.write(yaml.safe_dump(json.loads(json.dumps(data, default=str)), sort_keys=False, allow_unicode=True))


@app.command("keygen")
@command
def keygen(ctx: typer.Context, key_id: str = typer.Argument("k1", help="Key id stored with each record")) -> None:
    """Print a new AES-256 key entry for client_encryption.keys (keep it secret)."""
    from langgraph_ckpt_config.codecs import generate_key_spec

    sys.stdout.write(generate_key_spec(key_id) + "\n")
