"""S3 manager: AWS S3 and S3-compatible stores (MinIO, R2, Ceph), correct under S3's rules.

Layout (``P`` = ``key_prefix``; every id component percent-encoded, ``~`` reserved)::

    P<T>/r/<N>/<rev(checkpoint_id)>               record (msgpack: fields + sealed payload)
    P<T>/b/<N>/<channel>/<json version>           blob   (msgpack: type, payload, checksum)
    P<T>/w/<N>/<rev(checkpoint_id)>/<task>.<idx>  write  (msgpack)
    P<T>/meta                                     the real thread id, for hashed directories

``rev()`` hex-encodes an id and inverts every digit (then appends ``~``), so S3's
ascending listing returns the newest checkpoint first: the latest checkpoint of
a namespace is one ``ListObjectsV2(MaxKeys=1)`` plus one GET, and
``list(limit=n, before=id)`` lists ``n`` keys after ``rev(id)`` -- it never reads
the rest of the history. Components longer than 160 characters are replaced by
``~h`` + sha256 (S3 keys are limited to 1024 bytes); hashed thread directories
carry a ``meta`` object naming the thread.

Crash safety: a checkpoint's blobs are PUT before its record, and nothing is ever
read except through a record, so a crash between PUTs leaves unreferenced blobs
(garbage-collected later), never a record pointing at missing data. Blobs and
insert-only writes use ``If-None-Match: *`` (S3 conditional writes), which also
gives pending writes their insert-if-absent semantics; record updates use
``If-Match`` on the ETag read. See ``docs/s3.md`` for stores without them.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import logging
import threading
from collections.abc import Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any
from urllib.parse import unquote

from langgraph_ckpt_config.config.models import S3Parameters
from langgraph_ckpt_config.errors import BackendUnavailableError
from langgraph_ckpt_config.managers.base import BaseCheckpointManager
from langgraph_ckpt_config.managers.layout import encode_component, pack, pack_record, unpack, unpack_record
from langgraph_ckpt_config.managers.records import (
    BlobKey,
    ChannelVersion,
    RecordQuery,
    StoredBlob,
    StoredBundle,
    StoredRecord,
    StoredWrite,
    apply_update,
    record_matches,
    sort_key,
)

try:
    import boto3
    from boto3.s3.transfer import TransferConfig
    from botocore.config import Config
    from botocore.exceptions import BotoCoreError, ClientError
except ImportError as exc:  # pragma: no cover - exercised only without the extra
    raise ImportError("the s3 manager needs boto3: pip install 'langgraph-ckpt-config[s3]'") from exc

logger = logging.getLogger(__name__)

_MAX_COMPONENT = 160
_INVERT = str.maketrans("0123456789abcdef", "fedcba9876543210")
_UNINVERT = str.maketrans("fedcba9876543210", "0123456789abcdef")


def _enc(value: str) -> str:
    text = encode_component(value)
    if len(text) > _MAX_COMPONENT:
        return "~h" + hashlib.sha256(value.encode("utf-8", "surrogatepass")).hexdigest()
    return text


def _rev(checkpoint_id: str) -> str:
    raw = checkpoint_id.encode("utf-8", "surrogatepass").hex()
    if len(raw) > 2 * _MAX_COMPONENT:
        return "~h" + hashlib.sha256(checkpoint_id.encode("utf-8", "surrogatepass")).hexdigest()
    return raw.translate(_INVERT) + "~"


_pack = pack
_unpack = unpack


class S3CheckpointManager(BaseCheckpointManager):
    parameters_model = S3Parameters
    backend_name = "s3"

    # ------------------------------------------------------------------ client
    def _open(self) -> None:
        p = self.params
        self._bucket = p.bucket
        self._prefix = p.key_prefix
        self._where = f"s3 bucket {p.bucket!r}" + (f" at {p.endpoint_url}" if p.endpoint_url else "")
        config = Config(
            region_name=p.region,
            retries={"max_attempts": p.max_retries, "mode": p.retry_mode},
            connect_timeout=p.connect_timeout,
            read_timeout=p.read_timeout,
            max_pool_connections=max(10, p.max_concurrency * 2),
        )
        secret = p.secret_access_key.get_secret_value() if p.secret_access_key else None
        self._client = boto3.session.Session().client(
            "s3",
            endpoint_url=p.endpoint_url or None,
            aws_access_key_id=p.access_key_id.get_secret_value() if p.access_key_id else None,
            aws_secret_access_key=secret,
            aws_session_token=p.session_token.get_secret_value() if p.session_token else None,
            config=config,
        )
        self._transfer = TransferConfig(
            multipart_threshold=p.multipart_threshold,
            multipart_chunksize=p.multipart_chunksize,
            max_concurrency=p.max_concurrency,
        )
        self._pool = ThreadPoolExecutor(max_workers=p.max_concurrency, thread_name_prefix=f"lgckpt-s3-{self.name}")
        self._conditional = True
        self._lock = threading.Lock()
        self._ensure_bucket()

    def _close(self) -> None:
        self._pool.shutdown(wait=True)
        with contextlib.suppress(Exception):
            self._client.close()

    @contextlib.contextmanager
    def _translate(self, what: str = "") -> Iterator[None]:
        try:
            yield
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code", "")
            status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
            if code in ("NoSuchBucket",):
                raise BackendUnavailableError(
                    f"{self._where} does not exist; create it or set create_bucket: true"
                ) from None
            if code in ("AccessDenied", "InvalidAccessKeyId", "SignatureDoesNotMatch", "403"):
                raise BackendUnavailableError(f"{self._where}: access denied ({code}); check the credentials and policy") from None
            raise BackendUnavailableError(f"{self._where}: {what or 'request'} failed: {code or status}: {exc}") from None
        except BotoCoreError as exc:
            raise BackendUnavailableError(f"{self._where} unavailable: {type(exc).__name__}: {exc}") from None

    def _ensure_bucket(self) -> None:
        p = self.params
        try:
            self._client.head_bucket(Bucket=self._bucket)
        except ClientError as exc:
            status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
            if status != 404:
                with self._translate("HeadBucket"):
                    raise
            if not p.create_bucket:
                raise BackendUnavailableError(f"{self._where} does not exist; create it or set create_bucket: true") from None
            with self._translate("CreateBucket"):
                kwargs: dict[str, Any] = {"Bucket": self._bucket}
                if p.region and p.region != "us-east-1":
                    kwargs["CreateBucketConfiguration"] = {"LocationConstraint": p.region}
                try:
                    self._client.create_bucket(**kwargs)
                except ClientError as race:
                    if race.response.get("Error", {}).get("Code") not in ("BucketAlreadyOwnedByYou", "BucketAlreadyExists"):
                        raise
        except BotoCoreError:
            with self._translate("HeadBucket"):
                raise
        if p.versioning_enabled:
            with self._translate("PutBucketVersioning"):
                self._client.put_bucket_versioning(Bucket=self._bucket, VersioningConfiguration={"Status": "Enabled"})

    # ------------------------------------------------------------------ object helpers
    def _sse(self) -> dict[str, Any]:
        p = self.params
        if not p.encryption_enabled:
            return {}
        extra: dict[str, Any] = {"ServerSideEncryption": p.encryption_algorithm}
        if p.encryption_algorithm == "aws:kms" and p.kms_key_id:
            extra["SSEKMSKeyId"] = p.kms_key_id
        return extra

    def _put(self, key: str, body: bytes, *, if_none_match: bool = False, if_match: str | None = None) -> bool:
        """PUT an object; False when a condition failed (the object exists / changed)."""
        extra = self._sse()
        if len(body) >= self.params.multipart_threshold and not (if_none_match or if_match):
            with self._translate(f"upload {key}"):
                self._client.upload_fileobj(io.BytesIO(body), self._bucket, key, ExtraArgs=extra or None, Config=self._transfer)
            self._prune_versions(key)
            return True
        kwargs: dict[str, Any] = {"Bucket": self._bucket, "Key": key, "Body": body, **extra}
        if if_none_match and self._conditional:
            kwargs["IfNoneMatch"] = "*"
        if if_match and self._conditional:
            kwargs["IfMatch"] = if_match
        try:
            self._client.put_object(**kwargs)
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code", "")
            status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
            if code in ("PreconditionFailed", "ConditionalRequestConflict") or status == 412:
                return False
            if code == "NotImplemented" and (if_none_match or if_match):
                # The store has no conditional writes: fall back (see docs/s3.md for what then holds).
                logger.warning("%s does not support conditional writes; falling back to check-then-put", self._where)
                self._conditional = False
                if if_none_match and self._head(key):
                    return False
                return self._put(key, body)
            with self._translate(f"PUT {key}"):
                raise
        except BotoCoreError:
            with self._translate(f"PUT {key}"):
                raise
        if if_match is not None or (not if_none_match and self.params.versioning_enabled):
            self._prune_versions(key)
        return True

    def _head(self, key: str) -> bool:
        try:
            self._client.head_object(Bucket=self._bucket, Key=key)
            return True
        except ClientError as exc:
            if exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode") == 404:
                return False
            with self._translate(f"HEAD {key}"):
                raise
        return False

    def _get(self, key: str) -> tuple[bytes, str] | None:
        """(body, etag) or None when missing."""
        try:
            res = self._client.get_object(Bucket=self._bucket, Key=key)
            return res["Body"].read(), res.get("ETag", "")
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("NoSuchKey", "404") or exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode") == 404:
                return None
            with self._translate(f"GET {key}"):
                raise
        except BotoCoreError:
            with self._translate(f"GET {key}"):
                raise
        return None

    def _get_many(self, keys: Sequence[str]) -> list[bytes | None]:
        """Bounded-parallel GETs (``max_concurrency``), results in input order."""
        if len(keys) <= 1:
            return [(r[0] if (r := self._get(k)) else None) for k in keys]
        return [r[0] if r else None for r in self._pool.map(self._get, keys)]

    def _list(self, prefix: str, *, start_after: str | None = None, max_keys: int | None = None, delimiter: str | None = None) -> Iterator[str]:
        kwargs: dict[str, Any] = {"Bucket": self._bucket, "Prefix": prefix}
        if start_after:
            kwargs["StartAfter"] = start_after
        if delimiter:
            kwargs["Delimiter"] = delimiter
        remaining = max_keys
        while True:
            if remaining is not None:
                kwargs["MaxKeys"] = min(1000, remaining)
            with self._translate(f"list {prefix}"):
                res = self._client.list_objects_v2(**kwargs)
            items = [c["Prefix"] for c in res.get("CommonPrefixes", [])] if delimiter else [o["Key"] for o in res.get("Contents", [])]
            yield from items
            if remaining is not None:
                remaining -= len(items)
                if remaining <= 0:
                    return
            if not res.get("IsTruncated"):
                return
            kwargs["ContinuationToken"] = res["NextContinuationToken"]
            kwargs.pop("StartAfter", None)

    def _delete_keys(self, keys: Iterable[str]) -> int:
        keys = list(keys)
        deleted = 0
        for i in range(0, len(keys), 1000):
            chunk = keys[i : i + 1000]
            with self._translate("DeleteObjects"):
                res = self._client.delete_objects(Bucket=self._bucket, Delete={"Objects": [{"Key": k} for k in chunk], "Quiet": True})
            errors = res.get("Errors", [])
            if errors:
                raise BackendUnavailableError(f"{self._where}: could not delete {len(errors)} object(s): {errors[0].get('Message')}")
            deleted += len(chunk)
        return deleted

    def _prune_versions(self, key: str) -> None:
        """Keep at most ``max_versions`` versions of an overwritten object."""
        if not self.params.versioning_enabled:
            return
        with self._translate(f"ListObjectVersions {key}"):
            res = self._client.list_object_versions(Bucket=self._bucket, Prefix=key)
        versions = [v for v in res.get("Versions", []) + res.get("DeleteMarkers", []) if v["Key"] == key]
        versions.sort(key=lambda v: v["LastModified"], reverse=True)
        for old in versions[self.params.max_versions :]:
            with self._translate(f"DeleteObject {key} version"):
                self._client.delete_object(Bucket=self._bucket, Key=key, VersionId=old["VersionId"])

    # ------------------------------------------------------------------ layout
    def _thread_dir(self, thread_id: str) -> str:
        return f"{self._prefix}{_enc(thread_id)}/"

    def _record_key(self, thread_id: str, ns: str, checkpoint_id: str) -> str:
        return f"{self._thread_dir(thread_id)}r/{_enc(ns) or '~'}/{_rev(checkpoint_id)}"

    def _records_prefix(self, thread_id: str, ns: str | None) -> str:
        base = f"{self._thread_dir(thread_id)}r/"
        return base if ns is None else f"{base}{_enc(ns) or '~'}/"

    def _blob_key(self, thread_id: str, ns: str, channel: str, version: ChannelVersion) -> str:
        return f"{self._thread_dir(thread_id)}b/{_enc(ns) or '~'}/{_enc(channel)}/{_enc(json.dumps(version))}"

    def _writes_prefix(self, thread_id: str, ns: str, checkpoint_id: str) -> str:
        return f"{self._thread_dir(thread_id)}w/{_enc(ns) or '~'}/{_rev(checkpoint_id)}/"

    # ------------------------------------------------------------------ primitives
    def _write_checkpoint(self, record: StoredRecord, blobs: Sequence[tuple[str, StoredBlob]]) -> None:
        tid = record.thread_id
        jobs = [
            (self._blob_key(tid, ns, b.channel, b.version), _pack([b.payload_type, b.payload, b.checksum, ns, b.channel, b.version]))
            for ns, b in blobs
        ]
        # Blobs first (immutable: If-None-Match), then the record that names them.
        list(self._pool.map(lambda job: self._put(job[0], job[1], if_none_match=True), jobs))
        if _enc(tid).startswith("~h"):
            self._put(f"{self._thread_dir(tid)}meta", _pack({"thread_id": tid}), if_none_match=True)
        self._put(self._record_key(tid, record.checkpoint_ns, record.checkpoint_id), pack_record(record, with_payload=True))

    def _latest_key(self, thread_id: str, ns: str) -> str | None:
        return next(iter(self._list(self._records_prefix(thread_id, ns), max_keys=1)), None)

    def _read_record(self, thread_id: str, checkpoint_ns: str, checkpoint_id: str | None) -> StoredRecord | None:
        key = self._latest_key(thread_id, checkpoint_ns) if checkpoint_id is None else self._record_key(thread_id, checkpoint_ns, checkpoint_id)
        if key is None:
            return None
        got = self._get(key)
        return unpack_record(got[0]) if got else None

    def _read_bundle(self, thread_id: str, checkpoint_ns: str, checkpoint_id: str | None) -> StoredBundle | None:
        record = self._read_record(thread_id, checkpoint_ns, checkpoint_id)
        if record is None:
            return None
        writes_future = self._pool.submit(self._read_writes, thread_id, checkpoint_ns, record.checkpoint_id)
        blobs = self._read_blobs(thread_id, checkpoint_ns, list(record.channel_versions.items()))
        return StoredBundle(record, blobs, writes_future.result())

    def _thread_ids_listed(self) -> list[str]:
        out = []
        for prefix in self._list(self._prefix, delimiter="/"):
            component = prefix[len(self._prefix) : -1]
            if component.startswith("~h"):
                got = self._get(f"{prefix}meta")
                if got:
                    out.append(_unpack(got[0])["thread_id"])
            else:
                out.append(unquote(component))
        return out

    def _query_records(self, query: RecordQuery) -> Iterator[StoredRecord]:
        threads = [query.thread_id] if query.thread_id is not None else self._thread_ids_listed()
        if query.thread_id is not None and query.checkpoint_ns is not None and query.checkpoint_id is not None:
            rec = self._read_record(query.thread_id, query.checkpoint_ns, query.checkpoint_id)
            found = [rec] if rec is not None and record_matches(rec, query) else []
            return iter(found[query.offset : None if query.limit is None else query.offset + query.limit])
        indexed = query.thread_id is not None and query.checkpoint_ns is not None and query.order == "checkpoint_id" and not (
            query.metadata or query.tags or query.status or query.workflow_id or query.older_than or query.kind
        )
        if indexed:
            # Reverse-sorted keys: list exactly offset + limit keys after the `before` cursor.
            start = self._record_key(query.thread_id, query.checkpoint_ns, query.before_id) if query.before_id else None
            want = None if query.limit is None else query.offset + query.limit
            keys = list(self._list(self._records_prefix(query.thread_id, query.checkpoint_ns), start_after=start, max_keys=want))
            keys = keys[query.offset :]
            raws = self._get_many(keys)
            found = [unpack_record(r, include_payload=query.include_payload) for r in raws if r is not None]
            found = [r for r in found if record_matches(r, query)]  # hashed long ids sort by hash: re-check
            found.sort(key=sort_key(query), reverse=True)
            return iter(found)
        found = []
        for tid in threads:
            keys = list(self._list(self._records_prefix(tid, query.checkpoint_ns)))
            for raw in self._get_many(keys):
                if raw is not None:
                    rec = unpack_record(raw, include_payload=query.include_payload)
                    if record_matches(rec, query):
                        found.append(rec)
        found.sort(key=sort_key(query), reverse=True)
        end = None if query.limit is None else query.offset + query.limit
        return iter(found[query.offset : end])

    def _read_blobs(self, thread_id: str, checkpoint_ns: str, keys: Sequence[BlobKey]) -> dict[BlobKey, StoredBlob]:
        raws = self._get_many([self._blob_key(thread_id, checkpoint_ns, ch, ver) for ch, ver in keys])
        out = {}
        for (ch, ver), raw in zip(keys, raws):
            if raw is not None:
                typ, data, checksum = _unpack(raw)[:3]
                out[(ch, ver)] = StoredBlob(ch, ver, typ, data, checksum)
        return out

    def _write_writes(self, thread_id: str, checkpoint_ns: str, checkpoint_id: str, writes: Sequence[StoredWrite], *, replace: bool) -> None:
        prefix = self._writes_prefix(thread_id, checkpoint_ns, checkpoint_id)

        def put(w: StoredWrite) -> bool:
            body = _pack([w.task_id, w.idx, w.channel, w.payload_type, w.payload, w.checksum, w.task_path])
            # Insert-if-absent for regular writes is the store's own conditional PUT.
            return self._put(f"{prefix}{_enc(w.task_id)}.{w.idx}", body, if_none_match=not replace)

        list(self._pool.map(put, writes))

    def _read_writes(self, thread_id: str, checkpoint_ns: str, checkpoint_id: str) -> list[StoredWrite]:
        keys = list(self._list(self._writes_prefix(thread_id, checkpoint_ns, checkpoint_id)))
        out = []
        for raw in self._get_many(keys):
            if raw is not None:
                task_id, idx, channel, typ, payload, checksum, task_path = _unpack(raw)
                out.append(StoredWrite(task_id, idx, channel, typ, payload, checksum, task_path))
        return out

    def _update_record(self, thread_id: str, checkpoint_ns: str, checkpoint_id: str, *, status: str | None = None,
                       metadata: dict[str, Any] | None = None, tags: list[str] | None = None, updated_at: float) -> bool:
        key = self._record_key(thread_id, checkpoint_ns, checkpoint_id)
        for _attempt in range(5):
            got = self._get(key)
            if got is None:
                return False
            rec = apply_update(unpack_record(got[0]), status=status, metadata=metadata, tags=tags, updated_at=updated_at)
            if self._put(key, pack_record(rec, with_payload=True), if_match=got[1] or None):
                return True
        raise BackendUnavailableError(f"{self._where}: checkpoint {checkpoint_id!r} kept changing while being updated")

    def _delete_checkpoints(self, thread_id: str, keys: Sequence[tuple[str, str]]) -> int:
        existing = [k for k in (self._record_key(thread_id, ns, cid) for ns, cid in keys) if self._head(k)]
        # Records first: once a record is gone nothing points at its writes.
        self._delete_keys(existing)
        for ns, cid in keys:
            self._delete_keys(self._list(self._writes_prefix(thread_id, ns, cid)))
        return len(existing)

    def _delete_thread(self, thread_id: str) -> None:
        directory = self._thread_dir(thread_id)
        records = list(self._list(directory + "r/"))
        self._delete_keys(records)  # records first, then everything they referenced
        self._delete_keys(self._list(directory))

    def _list_thread_ids(self) -> Iterator[str]:
        return iter(self._thread_ids_listed())

    def _list_blob_keys(self, thread_id: str) -> Iterator[tuple[str, str, ChannelVersion]]:
        base = self._thread_dir(thread_id) + "b/"
        out = []
        for key in self._list(base):
            ns, ch, ver = key[len(base) :].split("/", 2)
            if "~h" in (ns[:2], ch[:2], ver[:2]):  # hashed long component: the object names itself
                got = self._get(key)
                if got:
                    _t, _p, _c, real_ns, real_ch, real_ver = _unpack(got[0])
                    out.append((real_ns, real_ch, real_ver))
                continue
            out.append(("" if ns == "~" else unquote(ns), unquote(ch), json.loads(unquote(ver))))
        return iter(out)

    def _delete_blobs(self, thread_id: str, keys: Sequence[tuple[str, str, ChannelVersion]]) -> int:
        return self._delete_keys(self._blob_key(thread_id, ns, ch, v) for ns, ch, v in keys)

