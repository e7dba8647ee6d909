"""``lgckpt threads|history|show|diff``: read LangGraph threads as an operator."""

from __future__ import annotations

import dataclasses
import json
from datetime import datetime, timezone
from typing import Any

import typer

from langgraph_ckpt_config.cli import app
from langgraph_ckpt_config.cli.context import command, emit, state
from langgraph_ckpt_config.errors import CheckpointNotFoundError, CkptError
from langgraph_ckpt_config.managers.interfaces import RecordKind
from langgraph_ckpt_config.managers.records import RecordQuery


def _iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, timezone.utc).isoformat(timespec="seconds")


def _plain(value: Any) -> Any:
    """A JSON-friendly rendering of channel values (messages as role: content)."""
    if hasattr(value, "content") and hasattr(value, "type"):
        return f"{value.type}: {value.content}"
    if hasattr(value, "model_dump"):
        return value.model_dump()
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    return repr(value)


def _next_nodes(checkpoint: dict[str, Any]) -> list[str]:
    # LangGraph triggers a node through its "branch:to:<node>" channel.
    updated = checkpoint.get("updated_channels") or []
    nodes = [ch.split("branch:to:", 1)[1] for ch in updated if ch.startswith("branch:to:")]
    if "__start__" in updated:
        nodes.insert(0, "__start__")
    return nodes


@app.command("threads")
@command
def threads(
    ctx: typer.Context,
    workflow: str = typer.Option(None, "--workflow", "-w", help="Only threads of this workflow_id"),
    limit: int = typer.Option(50, "--limit", min=1, help="Page size"),
    offset: int = typer.Option(0, "--offset", min=0, help="Skip this many threads"),
) -> None:
    """Threads with checkpoint counts, last update and stored size (most recent first)."""
    manager = state(ctx).manager()
    summary: dict[str, dict[str, Any]] = {}
    for rec in manager.query_records(RecordQuery(workflow_id=workflow, include_payload=False)):
        s = summary.setdefault(rec.thread_id, {"thread_id": rec.thread_id, "checkpoints": 0, "last_update": 0.0, "size_bytes": 0, "workflows": set()})
        s["checkpoints"] += 1
        s["last_update"] = max(s["last_update"], rec.updated_at)
        s["size_bytes"] += rec.size or 0
        s["workflows"].add(rec.workflow_id)
    ordered = sorted(summary.values(), key=lambda s: s["last_update"], reverse=True)[offset : offset + limit]
    data = [{**s, "last_update": _iso(s["last_update"]), "workflows": sorted(s["workflows"])} for s in ordered]
    emit(
        ctx,
        {"threads": data, "total": len(summary), "offset": offset, "limit": limit},
        title=f"threads ({len(summary)} total, showing {offset + 1 if data else 0}-{offset + len(data)})",
        columns=["thread", "checkpoints", "last update", "size", "workflow"],
        rows=[(d["thread_id"], d["checkpoints"], d["last_update"], d["size_bytes"], ", ".join(d["workflows"])) for d in data],
    )


def _history_row(manager, record, bundle, *, problem: str | None = None) -> dict[str, Any]:
    row = {
        "checkpoint_id": record.checkpoint_id,
        "parent_checkpoint_id": record.parent_checkpoint_id,
        "created_at": _iso(record.created_at),
        "step": None,
        "source": None,
        "next": [],
        "writes": [],
        "status": record.status,
    }
    if bundle is None:
        row["status"] = f"{record.status} (unreadable: {problem})"
        return row
    view = manager.decode_langgraph(bundle)
    md = view["metadata"]
    row.update(
        step=md.get("step"),
        source=md.get("source"),
        next=_next_nodes(view["checkpoint"]),
        writes=sorted({w[1] for w in view["pending_writes"] if not w[1].startswith("branch:to:")}),
    )
    return row


@app.command("history")
@command
def history(
    ctx: typer.Context,
    thread_id: str = typer.Argument(..., help="Thread id"),
    namespace: str = typer.Option("", "--ns", help="Checkpoint namespace (subgraphs)"),
    limit: int = typer.Option(None, "--limit", min=1, help="Newest N only"),
) -> None:
    """A thread's checkpoints, newest first: id, step, source, next nodes, pending writes."""
    manager = state(ctx).manager()
    query = RecordQuery(thread_id=thread_id, checkpoint_ns=namespace, kind=RecordKind.LANGGRAPH.value, limit=limit)
    try:
        rows = [_history_row(manager, bundle.record, bundle) for bundle in manager.iter_langgraph_bundles(query)]
    except CkptError:  # one checkpoint cannot be read: list them one by one, that one marked as such
        rows = []
        for rec in manager.query_records(dataclasses.replace(query, include_payload=False)):
            try:
                bundle = manager.get_langgraph_bundle(rec.thread_id, rec.checkpoint_ns, rec.checkpoint_id)
            except CkptError as exc:
                if manager.query_records(dataclasses.replace(query, checkpoint_id=rec.checkpoint_id, limit=None, include_payload=False)):
                    rows.append(_history_row(manager, rec, None, problem=str(exc)))
                continue  # else deleted since it was listed (its values went with it): not listed
            if bundle is not None:  # None: deleted since it was listed
                rows.append(_history_row(manager, rec, bundle))
    if not rows:
        raise CheckpointNotFoundError(f"thread {thread_id!r} has no LangGraph checkpoints in namespace {namespace!r}")
    emit(
        ctx,
        rows,
        title=f"history of {thread_id} (newest first)",
        columns=["checkpoint", "step", "source", "next", "writes", "created", "status"],
        rows=[(r["checkpoint_id"], r["step"], r["source"], ",".join(r["next"]) or "-", ", ".join(r["writes"]) or "-", r["created_at"], r["status"]) for r in rows],
    )


def _load_view(manager, thread_id: str, checkpoint_id: str | None, namespace: str) -> dict[str, Any]:
    bundle = manager.get_langgraph_bundle(thread_id, namespace, checkpoint_id)
    if bundle is None:
        what = f"no checkpoint {checkpoint_id!r}" if checkpoint_id else "no checkpoints"
        raise CheckpointNotFoundError(f"thread {thread_id!r} has {what} in namespace {namespace!r}")
    return {"checkpoint_id": bundle.record.checkpoint_id, **manager.decode_langgraph(bundle)}


@app.command("show")
@command
def show(
    ctx: typer.Context,
    thread_id: str = typer.Argument(...),
    checkpoint_id: str = typer.Argument(None, help="Default: the newest"),
    namespace: str = typer.Option("", "--ns"),
) -> None:
    """The state's channel values at a checkpoint."""
    view = _load_view(state(ctx).manager(), thread_id, checkpoint_id, namespace)
    values = {k: _plain(v) for k, v in sorted(view["channel_values"].items())}
    data = {"thread_id": thread_id, "checkpoint_id": view["checkpoint_id"], "metadata": _plain(view["metadata"]), "values": values}
    emit(
        ctx,
        data,
        title=f"{thread_id} @ {view['checkpoint_id']}",
        columns=["channel", "value"],
        rows=[(k, json.dumps(v, ensure_ascii=False, indent=1, default=str)) for k, v in values.items()],
    )


@app.command("diff")
@command
def diff(
    ctx: typer.Context,
    thread_id: str = typer.Argument(...),
    a: str = typer.Argument(..., help="Older checkpoint id"),
    b: str = typer.Argument(..., help="Newer checkpoint id"),
    namespace: str = typer.Option("", "--ns"),
) -> None:
    """Which channels changed between two checkpoints, and how."""
    manager = state(ctx).manager()
    va = {k: _plain(v) for k, v in _load_view(manager, thread_id, a, namespace)["channel_values"].items()}
    vb = {k: _plain(v) for k, v in _load_view(manager, thread_id, b, namespace)["channel_values"].items()}
    changes = []
    for ch in sorted(set(va) | set(vb)):
        if ch not in va:
            changes.append({"channel": ch, "change": "added", "detail": _short(vb[ch])})
        elif ch not in vb:
            changes.append({"channel": ch, "change": "removed", "detail": _short(va[ch])})
        elif va[ch] != vb[ch]:
            old, new = va[ch], vb[ch]
            if isinstance(old, list) and isinstance(new, list) and new[: len(old)] == old:
                detail = f"+{len(new) - len(old)} items: {_short(new[len(old):])}"
            else:
                detail = f"{_short(old)} -> {_short(new)}"
            changes.append({"channel": ch, "change": "changed", "detail": detail})
    emit(ctx, {"thread_id": thread_id, "from": a, "to": b, "changes": changes}, title=f"{thread_id}: {a} -> {b}",
         columns=["channel", "change", "detail"], rows=[(c["channel"], c["change"], c["detail"]) for c in changes])


def _short(value: Any, limit: int = 120) -> str:
    text = json.dumps(value, ensure_ascii=False, default=str)
    return text if len(text) <= limit else text[: limit - 3] + "..."
