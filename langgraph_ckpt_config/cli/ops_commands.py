"""``lgckpt verify|archive|restore|cleanup|stats|export|import|migrate``."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import typer

from langgraph_ckpt_config.cli import app
from langgraph_ckpt_config.cli.context import command, console, emit, progress, state
from langgraph_ckpt_config.errors import CheckpointNotFoundError, InvalidInputError
from langgraph_ckpt_config.managers.records import RecordQuery

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhdw]?)\s*$")
_SECONDS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def parse_duration(text: str | None) -> float | None:
    if text is None:
        return None
    m = _DURATION.match(text)
    if not m:
        raise InvalidInputError(f"--max-age {text!r}: expected seconds or a duration like 90m, 12h, 7d")
    return float(m.group(1)) * _SECONDS[m.group(2)]


def _records(manager, thread_id: str | None, checkpoint_id: str | None = None) -> list:
    recs = manager.query_records(RecordQuery(thread_id=thread_id, checkpoint_id=checkpoint_id, include_payload=False))
    if thread_id and not recs:
        raise CheckpointNotFoundError(f"thread {thread_id!r} not found" if not checkpoint_id else f"checkpoint {checkpoint_id!r} not found in thread {thread_id!r}")
    return recs


@app.command("verify")
@command
def verify(
    ctx: typer.Context,
    thread_id: str = typer.Option(None, "--thread", "-t", help="Verify one thread"),
    all_threads: bool = typer.Option(False, "--all", help="Verify every checkpoint"),
) -> None:
    """Check checksums (and decryption) of payloads, blobs and writes; exit 1 if anything is corrupt."""
    if not thread_id and not all_threads:
        raise InvalidInputError("say what to verify: --thread THREAD or --all")
    manager = state(ctx).manager()
    recs = _records(manager, thread_id)
    reports = []
    gone = 0
    with progress(ctx, len(recs), "verifying") as bar:
        for rec in recs:
            try:
                reports.append(manager.verify_report(rec.checkpoint_id, thread_id=rec.thread_id, checkpoint_ns=rec.checkpoint_ns))
            except CheckpointNotFoundError:
                gone += 1  # deleted since it was listed (retention, a cron cleanup): not corrupt
            bar.advance()
    bad = [r for r in reports if r["problems"]]
    corrupted = [r for r in bad if r["marked_corrupted"]]
    undecryptable = [r for r in bad if not r["marked_corrupted"]]
    title = f"verified {len(reports)} checkpoints, {len(corrupted)} corrupted"
    if undecryptable:
        # intact bytes that this configuration cannot decrypt: a key setting, not damage; not marked
        title += f", {len(undecryptable)} not decryptable with the configured keys (client_encryption.keys)"
    if gone:
        title += f", {gone} deleted meanwhile (not checked)"
    emit(ctx, {"checked": len(reports), "gone": gone, "corrupted": corrupted, "not_decryptable": undecryptable}, title=title,
         columns=["thread", "namespace", "checkpoint", "problem"],
         rows=[(r["thread_id"], r["checkpoint_ns"], r["checkpoint_id"], "; ".join(r["problems"])) for r in bad])
    if bad:
        raise typer.Exit(1)


def _set_status(ctx: typer.Context, thread_id: str, checkpoint_id: str | None, archive: bool) -> None:
    manager = state(ctx).manager()
    changed = gone = 0
    target = "archived" if archive else "active"
    for rec in _records(manager, thread_id, checkpoint_id):
        if rec.status == target:  # already so: not counted as changed
            continue
        fn = manager.archive_checkpoint if archive else manager.restore_checkpoint
        if fn(rec.checkpoint_id, thread_id=rec.thread_id, checkpoint_ns=rec.checkpoint_ns):
            changed += 1
        else:
            gone += 1  # False: no such record any more (deleted since it was listed)
    verb = "archived" if archive else "restored"
    emit(ctx, {verb: changed, "gone": gone, "thread_id": thread_id}) if state(ctx).json_output else console.print(
        f"{verb} {changed} checkpoint(s) of {thread_id}" + (f", {gone} deleted meanwhile" if gone else ""), markup=False)


@app.command("archive")
@command
def archive(ctx: typer.Context, thread_id: str = typer.Argument(...), checkpoint_id: str = typer.Argument(None)) -> None:
    """Mark a checkpoint (or every checkpoint of a thread) archived: kept by retention."""
    _set_status(ctx, thread_id, checkpoint_id, archive=True)


@app.command("restore")
@command
def restore(ctx: typer.Context, thread_id: str = typer.Argument(...), checkpoint_id: str = typer.Argument(None)) -> None:
    """Mark archived checkpoints active again."""
    _set_status(ctx, thread_id, checkpoint_id, archive=False)


@app.command("cleanup")
@command
def cleanup(
    ctx: typer.Context,
    max_age: str = typer.Option(None, "--max-age", help="Remove threads idle longer than this (3600, 12h, 7d)"),
    max_count: int = typer.Option(None, "--max-count", min=1, help="Keep the newest N checkpoints per thread namespace"),
    dry_run: bool = typer.Option(False, "--dry-run", help="Show what would be removed"),
) -> None:
    """Apply retention (never removes a thread's newest checkpoint unless the whole thread expired)."""
    if max_age is None and max_count is None:
        raise InvalidInputError("give --max-age and/or --max-count")
    manager = state(ctx).manager()
    age = parse_duration(max_age)
    result: dict[str, Any] = manager.plan_cleanup(max_age=age, max_count=max_count)
    if not dry_run:
        with progress(ctx, 1, "cleaning up") as bar:
            result = manager._apply_retention(max_age=age, max_count=max_count, dry_run=False)
            bar.advance()
    rows = [(t, "whole thread") for t in result["threads_removed"]] + [(t, f"{n} oldest") for t, n in result["trimmed"].items()]
    emit(ctx, result, title=f"{'would remove' if dry_run else 'removed'} {result['removed']} checkpoint(s)", columns=["thread", "removed"], rows=rows)


@app.command("stats")
@command
def stats(ctx: typer.Context) -> None:
    """The manager's statistics."""
    data = state(ctx).manager().get_statistics()
    flat = [(k, json.dumps(v, default=str) if isinstance(v, (dict, list)) else v) for k, v in data.items() if k != "operations"]
    flat += [(f"operations.{k}", v) for k, v in sorted((data.get("operations") or {}).items())]
    emit(ctx, data, title=f"statistics of {data['manager']}", columns=["statistic", "value"], rows=flat)


@app.command("export")
@command
def export(
    ctx: typer.Context,
    thread_ids: list[str] = typer.Argument(..., help="Threads to export"),
    output: Path = typer.Option(..., "--output", "-o", help="Export file (JSON, format documented in docs/design.md)"),
) -> None:
    """Export whole threads to a portable file."""
    thread_ids = list(dict.fromkeys(thread_ids))  # a thread named twice is exported once
    if output.is_dir():
        raise InvalidInputError(f"--output {output} is a directory; name the export file")
    manager = state(ctx).manager()
    docs = []
    with progress(ctx, len(thread_ids), "exporting") as bar:
        for tid in thread_ids:
            docs.append(manager.export_threads([tid]))
            bar.advance()
    merged = dict(docs[0])
    for key in ("records", "blobs", "writes"):
        merged[key] = [item for d in docs for item in d[key]]
    from langgraph_ckpt_config.managers.base import _write_json_atomic

    _write_json_atomic(output, merged)
    emit(ctx, {"file": str(output), "threads": len(thread_ids), "checkpoints": len(merged["records"])}) if state(ctx).json_output else console.print(
        f"exported {len(merged['records'])} checkpoint(s) of {len(thread_ids)} thread(s) to {output}", markup=False)


@app.command("import")
@command
def import_(
    ctx: typer.Context,
    path: Path = typer.Argument(..., help="Export file"),
    thread_id: str = typer.Option(None, "--thread", help="Import under this thread id instead"),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace checkpoints that already exist"),
) -> None:
    """Import an export file (original ids kept, unless --thread gives a file of one thread another id).

    The whole file is checked first: a damaged or incomplete file, or a checkpoint that
    already exists (without --overwrite), imports nothing."""
    from langgraph_ckpt_config.managers.base import _read_export

    doc = _read_export(path)
    manager = state(ctx).manager(existing=False)
    with progress(ctx, len(doc["records"]), "importing") as bar:
        keys = manager.import_document(doc, thread_id=thread_id, overwrite=overwrite, progress=bar.advance)
    emit(ctx, {"imported": len(keys)}) if state(ctx).json_output else console.print(f"imported {len(keys)} checkpoint(s)", markup=False)


def _refuse_foreign_history(dst, thread_id: str, doc: dict[str, Any], target: str) -> None:
    """A re-run finds part of the thread already copied (skipped); a target thread holding
    checkpoints the source does not have is another history, which a copy would merge into
    this one (the newest of either would become the thread's head)."""
    ours = {(r["checkpoint_ns"], r["checkpoint_id"]) for r in doc["records"]}
    theirs = {(r.checkpoint_ns, r.checkpoint_id) for r in dst.query_records(RecordQuery(thread_id=thread_id, include_payload=False))}
    foreign = theirs - ours
    if foreign:
        raise InvalidInputError(
            f"thread {thread_id!r} already exists in {target!r} with {len(foreign)} checkpoint(s) the source does not "
            "have: copying would merge two histories. Delete it there first, or leave it out with --threads"
        )


@app.command("migrate")
@command
def migrate(
    ctx: typer.Context,
    source: str = typer.Option(..., "--from", help="Source manager name"),
    target: str = typer.Option(..., "--to", help="Target manager name"),
    threads: list[str] = typer.Option(None, "--threads", help="Only these threads (repeatable)"),
    move: bool = typer.Option(False, "--move", help="Delete each thread from the source once copied and verified"),
) -> None:
    """Copy threads between two configured managers, verifying every copied checkpoint.

    Re-running after an interruption skips checkpoints already in the target, so
    nothing is duplicated. The source is untouched unless ``--move`` is given.
    """
    if source == target:
        raise InvalidInputError("--from and --to name the same manager")
    src = state(ctx).manager(source)
    dst = state(ctx).manager(target, existing=False)
    thread_ids = list(threads) if threads else src.list_thread_ids()
    copied = skipped = gone = 0
    with progress(ctx, len(thread_ids), f"migrating {source} -> {target}") as bar:
        for tid in thread_ids:
            try:
                doc = src.export_threads([tid])
            except CheckpointNotFoundError:
                if threads:
                    raise  # named on the command line: an error
                gone += 1  # listed, then deleted (a cron cleanup, max_age): nothing to copy
                bar.advance()
                continue
            _refuse_foreign_history(dst, tid, doc, target)
            imported = dst.import_document(doc, skip_existing=True)
            copied += len(imported)
            skipped += len(doc["records"]) - len(imported)
            for rec in doc["records"]:
                report = dst.verify_report(rec["checkpoint_id"], thread_id=tid, checkpoint_ns=rec["checkpoint_ns"])
                if report["problems"]:
                    raise InvalidInputError(f"thread {tid!r}: copy of {rec['checkpoint_id']!r} failed verification: {report['problems']}")
            if move:
                src.delete_thread(tid)
            bar.advance()
    result = {"threads": len(thread_ids) - gone, "copied": copied, "already_present": skipped, "threads_gone": gone, "moved": move}
    emit(ctx, result) if state(ctx).json_output else console.print(
        f"migrated {len(thread_ids) - gone} thread(s) from {source} to {target}: {copied} copied, {skipped} already present"
        + (f", {gone} thread(s) deleted meanwhile" if gone else "") + (", source deleted" if move else ""), markup=False)
