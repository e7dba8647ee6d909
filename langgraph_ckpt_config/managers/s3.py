"""S3 manager: AWS S3 and S3-compatible stores (MinIO, R2, Ceph), correct under S3's rules.

Layout (``P`` = ``key_prefix``; every id component percent-encoded, ``~`` reserved)::

    P<T>/r/<N>/<rev(checkpoint_id)>                 record (msgpack: fields + sealed payload
                                                    + sealed inline values + parent's write bodies)
    P<T>/r/<N>/<rev(checkpoint_id)>/<task>.<idx>    pending write of that checkpoint (msgpack)
    P<T>/r/<N>/<rev(checkpoint_id)>/<task>.<idx>+<n>  n writes of one put_writes call, packed
    P<T>/b/<N>/<channel>/<json version>             blob (msgpack: type, payload, checksum, names)
    P<T>/h/<N>                                      head: latest record + all its values, list
                                                    elements and pending writes (one object)
    P<T>/meta                                       the real thread id, for hashed directories

``rev()`` hex-encodes an id and inverts every digit (then appends ``~``), so S3's
ascending listing returns the newest checkpoint first, each record followed by its
pending writes. One ``ListObjectsV2`` without a delimiter therefore names the latest
records, their ETags and every write key with its ETag; the rest of the history is
never listed.

Reads are one GET per checkpoint: a record carries its channel values of at most
16 KiB (copied forward from the previous checkpoint this process wrote or read) and
the bodies of its parent's pending writes; the namespace's head carries the latest
checkpoint whole. Everything that did not come from its own object -- the head, the
write copies, cached bodies -- is used only when the same listing shows the object's
key with that ETag (the MD5 of the body), so nothing stale is ever served. A cold
latest read is LIST || GET head; a cold first page is LIST || GET head + one GET per
further record.

The head is written late and once: ``put`` sends blobs then the record, ``put_writes``
its writes; the head of the latest checkpoint (with the writes that followed it) goes out
``_HEAD_FLUSH_DELAY`` after the first unsent change, at ``close``, or at once beside a
special write (interrupt, error). Until then a cold reader takes what the older head holds
that needs no trust in its age (content-addressed elements, bodies vouched for by ETags).

Crash safety: a checkpoint's blobs are PUT before its record, and nothing is ever
read except through a record, so a crash between PUTs leaves unreferenced blobs
(garbage-collected later), never a record pointing at missing data. The head names no
other object and is validated against the listing, so it may go out at any time.
Blobs and insert-only writes use ``If-None-Match: *`` (S3 conditional writes), which
also gives pending writes their insert-if-absent semantics; record updates use
``If-Match`` on the ETag read. See ``docs/s3.md`` for stores without them.

Concurrency: every task submitted to the bounded pool (``max_concurrency``) is a
leaf (one GET, PUT or paged LIST); pool tasks never wait on the pool, so
concurrent callers cannot deadlock it.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import logging
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any
from urllib.parse import unquote

from langgraph_ckpt_config.config.models import S3Parameters
from langgraph_ckpt_config.errors import BackendUnavailableError, CkptError, StaleElementsError
from langgraph_ckpt_config.managers.base import _OPENED, BaseCheckpointManager, LRUCache, OpenedBundle, _aad
from langgraph_ckpt_config.managers.deferred import DeferredJobs
from langgraph_ckpt_config.managers.layout import encode_component, pack, pack_record, unpack, unpack_record
from langgraph_ckpt_config.managers.listtree import MANIFEST_TYPES, NODE_TYPE, closure, manifest_entries
from langgraph_ckpt_config.managers.records import (
    ELEMENT_CHANNEL,
    EMPTY_BLOB_TYPE,
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
    from boto3.exceptions import Boto3Error
    from boto3.s3.transfer import TransferConfig
    from botocore.config import Config
    from botocore.exceptions import BotoCoreError, ClientError
except ImportError as exc:  # pragma: no cover - exercised only without the extra
    raise ImportError("the s3 manager needs boto3: pip install 'langgraph-ckpt-config[s3]'") from exc

logger = logging.getLogger(__name__)

_MAX_COMPONENT = 160
_INVERT = str.maketrans("0123456789abcdef", "fedcba9876543210")
#: Records of a namespace are read in chunks of this many (blobs/writes fetched per chunk).
_BUNDLE_CHUNK = 32
#: At most this many checkpoints are deleted by HEAD probes; more use one listing per namespace.
_HEAD_PROBES = 16

#: A channel value up to this many bytes (opened) is copied into every record that names it.
_INLINE_MAX = 16 * 1024
#: The namespace's head object (latest record + every value + list elements) is not written above this.
_HEAD_MAX = 16 * 1024 * 1024
#: Number of (thread, namespace) value states remembered for copy-forward and heads.
_STATES = 4096
#: Listing keys asked per wanted record (the record and its pending writes).
_KEYS_PER_RECORD = 8
#: Seconds after the first change not yet in the stored head (a ``put``, or a ``put_writes`` of
#: regular writes to the head's checkpoint) before the head goes out in the background; later
#: changes ride along. Special writes (interrupt, error, ...) send it at once: the run usually
#: stops there and the next reader is often another process.
_HEAD_FLUSH_DELAY = 0.25
#: First field of a write object holding several writes of one ``put_writes`` call.
_PACK_TAG = "~writes"
#: Head PUTs of one thread are serialised (check "still the latest head" + PUT) on one of these.
_HEAD_LOCKS = 64

#: A listed record: [key, etag, writes(, inline section)] -- writes: ``(key, etag)`` of its
#: pending writes, None when not listed; the inline section ``(sealed, checksum)`` once read.
Entry = list
#: A channel's opened value: (version, payload_type, raw).
Value = tuple


def _enc(value: str) -> str:
    text = encode_component(value)
    if text in (".", ".."):  # never a path segment some proxy or store could normalise away
        text = text.replace(".", "%2E")
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


def _md5_etag(body: bytes) -> str:
    return hashlib.md5(body, usedforsecurity=False).hexdigest()


def _status(exc: ClientError) -> int | None:
    return exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")


def _code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


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
            # our pool plus s3transfer's threads for a multipart upload running beside it
            max_pool_connections=max(10, p.max_concurrency * 2),
        )
        self._client = boto3.session.Session().client(
            "s3",
            endpoint_url=p.endpoint_url or None,
            aws_access_key_id=p.access_key_id.get_secret_value() if p.access_key_id else None,
            aws_secret_access_key=p.secret_access_key.get_secret_value() if p.secret_access_key else None,
            aws_session_token=p.session_token.get_secret_value() if p.session_token else None,
            config=config,
        )
        self._transfer = TransferConfig(
            multipart_threshold=p.multipart_threshold,
            multipart_chunksize=p.multipart_chunksize,
            max_concurrency=p.max_concurrency,
        )
        self._pool = ThreadPoolExecutor(max_workers=p.max_concurrency, thread_name_prefix=f"lgckpt-s3-{self.name}")
        # key -> (etag, body): records and writes, used only when a LIST reports the same ETag.
        self._objects = LRUCache(p.local_cache_size if p.local_cache_enabled else 0, p.local_cache_ttl)
        # (thread, ns) -> {channel: (version, type, raw)}: the values of the last checkpoint this
        # process wrote or read there, copied forward into the next record and head.
        self._values = LRUCache(_STATES, None)
        # (thread, ns, checkpoint_id) -> {key suffix after the record key: body} of its pending
        # writes this process wrote or read: copied into the child record and into the head.
        self._wbodies = LRUCache(_STATES, None)
        # (thread, ns) -> (record key, sealed head section, checksum) of the head this process
        # last wrote or read, so that put_writes can re-send it with the writes.
        self._heads = LRUCache(_STATES, None)
        self._head_locks = [threading.Lock() for _ in range(_HEAD_LOCKS)]
        # per thread (striped): a blob collection against this process's checkpoint writes
        self._thread_locks = [threading.RLock() for _ in range(_HEAD_LOCKS)]
        # (thread, ns) -> the deferred re-send of its head with the pending writes that followed it.
        delay = _HEAD_FLUSH_DELAY if p.head_flush_delay is None else p.head_flush_delay
        self._deferred = DeferredJobs(delay, f"lgckpt-s3-heads-{self.name}")
        self._conditional = True
        self._lock = threading.Lock()
        self._ensure_bucket()

    def _close(self) -> None:
        self._deferred.close()  # re-sends the heads still waiting for their writes
        self._pool.shutdown(wait=True)
        self._objects.clear()
        self._values.clear()
        self._wbodies.clear()
        self._heads.clear()
        with contextlib.suppress(Exception):
            self._client.close()

    @contextlib.contextmanager
    def _translate(self, what: str = "") -> Iterator[None]:
        """botocore/boto3 errors -> BackendUnavailableError naming the bucket and endpoint (never credentials)."""
        try:
            yield
        except ClientError as exc:
            code, status = _code(exc), _status(exc)
            if code == "NoSuchBucket":
                raise BackendUnavailableError(f"{self._where} does not exist; create it or set create_bucket: true") from None
            if code in ("AccessDenied", "InvalidAccessKeyId", "SignatureDoesNotMatch", "ExpiredToken", "403") or status == 403:
                raise BackendUnavailableError(
                    f"{self._where}: access denied ({code or status}) on {what or 'request'}; check the credentials and the bucket policy"
                ) from None
            raise BackendUnavailableError(f"{self._where}: {what or 'request'} failed: {code or status}: {exc}") from None
        except BotoCoreError as exc:
            raise BackendUnavailableError(
                f"{self._where} unavailable ({what or 'request'}, after retries): {type(exc).__name__}: {exc}"
            ) from None
        except Boto3Error as exc:  # s3transfer failures (multipart uploads)
            raise BackendUnavailableError(f"{self._where}: {what or 'transfer'} failed: {exc}") from None

    def _ensure_bucket(self) -> None:
        p = self.params
        try:
            self._client.head_bucket(Bucket=self._bucket)
        except ClientError as exc:
            if _status(exc) != 404:
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
                    if _code(race) not in ("BucketAlreadyOwnedByYou", "BucketAlreadyExists"):
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

    def _put(self, key: str, body: bytes, *, if_none_match: bool = False, if_match: str | None = None, cache: bool = False) -> bool:
        """PUT an object; False when a condition failed (the object exists / changed).

        Bodies of at least ``multipart_threshold`` bytes go through boto3's multipart
        transfer. A multipart ``if_none_match`` PUT is HEAD-then-upload (blobs are
        immutable, so a racing writer uploads the same bytes).
        """
        extra = self._sse()
        if len(body) >= self.params.multipart_threshold and if_match is None:
            if if_none_match and self._head(key):
                return False
            with self._translate(f"upload {key}"):
                self._client.upload_fileobj(io.BytesIO(body), self._bucket, key, ExtraArgs=extra or None, Config=self._transfer)
            if not if_none_match:
                self._prune_versions(key)
            return True
        kwargs: dict[str, Any] = {"Bucket": self._bucket, "Key": key, "Body": body, **extra}
        if if_none_match and self._conditional:
            kwargs["IfNoneMatch"] = "*"
        if if_match and self._conditional:
            kwargs["IfMatch"] = if_match
        try:
            res = self._client.put_object(**kwargs)
        except ClientError as exc:
            if _code(exc) in ("PreconditionFailed", "ConditionalRequestConflict") or _status(exc) in (409, 412):
                return False
            if _code(exc) == "NotImplemented" and (if_none_match or if_match):
                # The store has no conditional writes: fall back (see docs/s3.md for what then holds).
                logger.warning("%s does not support conditional writes; falling back to check-then-put", self._where)
                self._conditional = False
                if if_none_match and self._head(key):
                    return False
                return self._put(key, body, cache=cache)
            with self._translate(f"PUT {key}"):
                raise
        except BotoCoreError:
            with self._translate(f"PUT {key}"):
                raise
        if cache and res.get("ETag"):
            self._objects.put(key, (res["ETag"], body), len(body))
        if not if_none_match:
            self._prune_versions(key)
        return True

    def _head(self, key: str) -> bool:
        try:
            self._client.head_object(Bucket=self._bucket, Key=key)
            return True
        except ClientError as exc:
            if _status(exc) == 404:
                return False
            with self._translate(f"HEAD {key}"):
                raise
        except BotoCoreError:
            with self._translate(f"HEAD {key}"):
                raise
        return False

    def _get(self, key: str) -> tuple[bytes, str] | None:
        """(body, etag) or None when missing."""
        try:
            res = self._client.get_object(Bucket=self._bucket, Key=key)
            return res["Body"].read(), res.get("ETag", "")
        except ClientError as exc:
            if _code(exc) in ("NoSuchKey", "404") or _status(exc) == 404:
                return None
            with self._translate(f"GET {key}"):
                raise
        except BotoCoreError:
            with self._translate(f"GET {key}"):
                raise
        return None

    def _fetch(self, key: str, etag: str | None = None, *, cache: bool = True) -> bytes | None:
        """An object's body: from the local cache when ``etag`` (from a LIST) matches, else one GET."""
        if etag and cache:
            hit = self._objects.get(key)
            if hit is not None and hit[0] == etag:
                return hit[1]
        got = self._get(key)
        if got is None:
            return None
        body, got_etag = got
        if cache and got_etag:
            self._objects.put(key, (got_etag, body), len(body))
        return body

    def _fetch_many(self, items: Sequence[tuple[str, str | None, bool]]) -> list[bytes | None]:
        """Bounded-parallel ``_fetch`` of ``(key, etag, cache)``; results in input order."""
        if len(items) <= 1:
            return [self._fetch(k, e, cache=c) for k, e, c in items]
        return list(self._pool.map(lambda item: self._fetch(item[0], item[1], cache=item[2]), items))

    def _get_many(self, keys: Sequence[str]) -> list[bytes | None]:
        return self._fetch_many([(k, None, False) for k in keys])

    def _run(self, jobs: Sequence[Callable[[], Any]]) -> list[Any]:
        """Run leaf jobs in the pool (the first one on this thread); results in order."""
        if not jobs:
            return []
        futures: list[Future] = [self._pool.submit(job) for job in jobs[1:]]
        first = jobs[0]()
        return [first, *(f.result() for f in futures)]

    def _list_page(self, kwargs: dict[str, Any]) -> dict[str, Any]:
        with self._translate(f"list {kwargs.get('Prefix', '')}"):
            return self._client.list_objects_v2(**kwargs)

    def _list(self, prefix: str, *, start_after: str | None = None, max_keys: int | None = None, delimiter: str | None = None) -> Iterator[str]:
        """Keys under ``prefix`` (or its common prefixes when ``delimiter`` is given), ascending."""
        for key, _etag in self._list_objects(prefix, start_after=start_after, max_keys=max_keys, delimiter=delimiter):
            yield key

    def _list_objects(self, prefix: str, *, start_after: str | None = None, max_keys: int | None = None, delimiter: str | None = None) -> Iterator[tuple[str, str]]:
        kwargs: dict[str, Any] = {"Bucket": self._bucket, "Prefix": prefix}
        if start_after:
            kwargs["StartAfter"] = start_after
        if delimiter:
            kwargs["Delimiter"] = delimiter
        remaining = max_keys
        while True:
            if remaining is not None:
                kwargs["MaxKeys"] = min(1000, remaining)
            res = self._list_page(kwargs)
            if delimiter:
                items = [(c["Prefix"], "") for c in res.get("CommonPrefixes", [])]
            else:
                items = [(o["Key"], o.get("ETag", "")) for o in res.get("Contents", [])]
            yield from items
            if remaining is not None:
                remaining -= len(items)
                if remaining <= 0:
                    return
            if not res.get("IsTruncated"):
                return
            kwargs["ContinuationToken"] = res["NextContinuationToken"]
            kwargs.pop("StartAfter", None)

    def _record_entries(self, prefix: str, *, start_after: str | None = None, want: int | None = None) -> Iterator[Entry]:
        """Records of one namespace prefix, newest first, as ``[key, etag, writes]``.

        Lists without a delimiter: a checkpoint's pending writes ``<record key>/<task>.<idx>``
        sort right after its record (``/`` < every hex digit and ``~``), so one listing names
        the records, their ETags and every write key with its ETag. ``writes`` is the list of
        ``(key, etag)``; an entry is yielded once the next record (or the end) shows its writes
        are complete. Writes under a key with no record (a crash mid-delete) are skipped.
        """
        kwargs: dict[str, Any] = {"Bucket": self._bucket, "Prefix": prefix}
        if start_after:
            kwargs["StartAfter"] = start_after
        held: Entry | None = None
        count = 0
        while True:
            kwargs["MaxKeys"] = 1000 if want is None else max(2, min(1000, (want - count) * _KEYS_PER_RECORD + 1))
            res = self._list_page(kwargs)
            for o in res.get("Contents", []):
                key = o["Key"]
                if "/" in key[len(prefix) :]:  # a pending write
                    if held is not None and key.startswith(held[0] + "/"):
                        held[2].append((key, o.get("ETag", "")))
                    continue
                if held is not None:
                    yield held
                    count += 1
                    if want is not None and count >= want:
                        return
                held = [key, o.get("ETag", ""), []]
            if not res.get("IsTruncated"):
                if held is not None:
                    yield held
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
        """Keep at most ``max_versions`` versions of an overwritten object.

        S3 lists the versions of a key newest first (LastModified has only second
        resolution, so it cannot order them); delete markers do not count.
        """
        if not self.params.versioning_enabled:
            return
        with self._translate(f"ListObjectVersions {key}"):
            res = self._client.list_object_versions(Bucket=self._bucket, Prefix=key, MaxKeys=1000)
        versions = [v for v in res.get("Versions", []) if v["Key"] == key]
        latest = [v for v in versions if v.get("IsLatest")]
        ordered = latest + [v for v in versions if not v.get("IsLatest")]
        doomed = [{"Key": key, "VersionId": v["VersionId"]} for v in ordered[self.params.max_versions :]]
        if doomed:
            with self._translate(f"DeleteObjects {key} versions"):
                self._client.delete_objects(Bucket=self._bucket, Delete={"Objects": doomed, "Quiet": True})

    # ------------------------------------------------------------------ layout
    def _thread_dir(self, thread_id: str) -> str:
        return f"{self._prefix}{_enc(thread_id)}/"

    def _ns_dir(self, thread_id: str, ns: str) -> str:
        return f"{self._thread_dir(thread_id)}r/{_enc(ns) or '~'}/"

    def _record_key(self, thread_id: str, ns: str, checkpoint_id: str) -> str:
        return f"{self._ns_dir(thread_id, ns)}{_rev(checkpoint_id)}"

    def _records_prefix(self, thread_id: str, ns: str | None) -> str:
        return f"{self._thread_dir(thread_id)}r/" if ns is None else self._ns_dir(thread_id, ns)

    def _blob_key(self, thread_id: str, ns: str, channel: str, version: ChannelVersion) -> str:
        return f"{self._thread_dir(thread_id)}b/{_enc(ns) or '~'}/{_enc(channel)}/{_enc(json.dumps(version))}"

    def _head_key(self, thread_id: str, ns: str) -> str:
        return f"{self._thread_dir(thread_id)}h/{_enc(ns) or '~'}"

    def _writes_prefix(self, thread_id: str, ns: str, checkpoint_id: str) -> str:
        return self._record_key(thread_id, ns, checkpoint_id) + "/"

    @staticmethod
    def _after_record(record_key: str) -> str:
        """A StartAfter cursor past a record *and* its writes (``/`` < ``0``; ``~0`` never occurs)."""
        return record_key + "0"

    # ------------------------------------------------------------------ primitives
    def _write_checkpoint_checked(
        self, record: StoredRecord, blobs: Sequence[tuple[str, StoredBlob]], must_exist: Sequence[str]
    ) -> None:
        """Checked against this process's own view, under the thread's lock that a blob
        collection of this process holds throughout (``_collection_guard``): an element named
        without being carried must still be one this process knows stored, and a collection
        forgets every element of the thread it collected. So a prune, a retention pass or the
        cleanup worker of this process never deletes what a concurrent put names. Another
        process's deletes are not seen: checking the store would cost a request per named
        element on every put, and S3 has no transaction to make the check hold until the
        record lands (docs/s3.md, "Concurrency")."""
        tid, ns = record.thread_id, record.checkpoint_ns
        with self._thread_lock(tid):
            known = self._known_elements.members
            gone = [d for d in must_exist if (tid, ns, d) not in known]
            if gone:
                raise StaleElementsError(tid, gone)
            self._write_checkpoint(record, blobs)

    def _thread_lock(self, thread_id: str) -> threading.RLock:
        return self._thread_locks[hash(thread_id) % len(self._thread_locks)]

    def _collection_guard(self, thread_id: str) -> threading.RLock:
        """The thread's lock, which this process's checkpoint writes take too (see
        ``_write_checkpoint_checked``)."""
        return self._thread_lock(thread_id)

    def _write_checkpoint(self, record: StoredRecord, blobs: Sequence[tuple[str, StoredBlob]]) -> None:
        tid, ns = record.thread_id, record.checkpoint_ns
        jobs = [
            (self._blob_key(tid, bns, b.channel, b.version), _pack([b.payload_type, b.payload, b.checksum, bns, b.channel, b.version]))
            for bns, b in blobs
        ]
        # Blobs first (immutable: If-None-Match), then the record that names them; the namespace's
        # head later (deferred). The head is self-contained (it names no other object) and is used
        # only while the listing shows a record whose ETag is the MD5 of the record body it carries.
        done = self._run([lambda job=job: self._put(job[0], job[1], if_none_match=True) for job in jobs])
        # A blob that already existed keeps its first value: never inline another one for it.
        kept_first = {b.channel for (bns, b), ok in zip(blobs, done) if not ok and bns == ns and b.channel != ELEMENT_CHANNEL}
        for (bns, b), ok in zip(blobs, done):
            if not ok and b.channel != ELEMENT_CHANNEL:  # sealing cached our value; the store kept its own
                self._blob_cache.discard_where(lambda k, b=b, bns=bns: k == (tid, bns, b.channel, b.version))
        values = self._values_of(record, blobs, kept_first)
        body = self._record_body(record, values)
        head = self._head_body(record, body, values)
        if _enc(tid).startswith("~h"):
            self._put(f"{self._thread_dir(tid)}meta", _pack({"thread_id": tid}), if_none_match=True)
        rkey = self._record_key(tid, ns, record.checkpoint_id)
        puts: list[Callable[[], Any]] = [lambda: self._put(rkey, body, cache=True)]
        self._run(puts)
        if head is not None:
            # The head follows within _HEAD_FLUSH_DELAY (a pending one keeps its due time, so a
            # fast loop still refreshes it that often); the next put usually replaces it first.
            with self._lock:
                self._heads.put((tid, ns), (rkey, *head), len(head[0]))
            self._deferred.schedule((tid, ns), lambda: self._put_head(tid, ns, record.checkpoint_id))
        if values is not None:
            self._values.put((tid, ns), values, sum(len(v[2]) + 64 for v in values.values()))

    # ------------------------------------------------------------------ inline values and heads
    def _values_of(self, record: StoredRecord, blobs: Sequence[tuple[str, StoredBlob]], skip: set[str]) -> dict[str, Value]:
        """Opened values of the record's channels this process knows: the blobs of this put,
        the values of the last checkpoint it wrote or read in the namespace, the blob cache."""
        tid, ns = record.thread_id, record.checkpoint_ns
        new = {b.channel: b for bns, b in blobs if bns == ns and b.channel != ELEMENT_CHANNEL}
        prev = self._values.get((tid, ns)) or {}
        out: dict[str, Value] = {}
        for ch, ver in record.channel_versions.items():
            if ch in skip:
                continue
            b = new.get(ch)
            if b is not None and b.version == ver:
                if b.payload_type == EMPTY_BLOB_TYPE:
                    out[ch] = (ver, EMPTY_BLOB_TYPE, b"")
                else:
                    with contextlib.suppress(CkptError):
                        out[ch] = (ver, b.payload_type, self._open_blob(tid, ns, b))
                continue
            known = prev.get(ch)
            if known is not None and known[0] == ver:
                out[ch] = known
                continue
            hit = self._blob_cache.get((tid, ns, ch, ver))
            if hit is not None:
                out[ch] = (ver, hit[2], hit[1])
        return out

    def _inline_aad(self, thread_id: str, ns: str, checkpoint_id: str) -> bytes:
        return _aad("s3-inline", thread_id, ns, checkpoint_id)

    def _record_body(self, record: StoredRecord, values: dict[str, Value], extra: Sequence[Any] | None = None) -> bytes:
        """The record object: ``pack_record`` fields, then (when any) the sealed section of the
        record's channel values of at most ``_INLINE_MAX`` bytes, so that reading a checkpoint
        is one GET. Readers of the plain layout ignore the extra fields."""
        fields = _unpack(pack_record(record, with_payload=True))
        if extra is not None:  # an update: the record keeps its sections
            fields += list(extra)
            return _pack(fields)
        inline = [[ch, v[0], v[1], v[2]] for ch, v in values.items() if len(v[2]) <= _INLINE_MAX]
        section: list[Any] = [None, None]
        if inline:
            section = list(self._seal(_pack(inline), self._inline_aad(record.thread_id, record.checkpoint_ns, record.checkpoint_id)))
        parent_writes = None
        if record.parent_checkpoint_id is not None:
            known = self._wbodies.get((record.thread_id, record.checkpoint_ns, record.parent_checkpoint_id))
            parent_writes = [[k, v] for k, v in known.items()] if known else None
        if parent_writes:
            fields += [*section, parent_writes]
        elif inline:
            fields += section
        return _pack(fields)

    def _parse_record(self, raw: bytes, *, include_payload: bool = True) -> tuple[StoredRecord, tuple | None]:
        """A record and its inline section; the parent's pending writes it carries go to the
        ETag-validated object cache (used only if a listing shows the same ETags)."""
        record = unpack_record(raw, include_payload=include_payload)
        fields = _unpack(raw)
        if len(fields) > 18 and fields[18] and record.parent_checkpoint_id is not None:
            self._prime_writes(record.thread_id, record.checkpoint_ns, record.parent_checkpoint_id, fields[18])
        return record, (fields[16], fields[17]) if len(fields) > 17 and fields[16] is not None else None

    def _open_inline(self, record: StoredRecord, section: tuple | None) -> dict[BlobKey, StoredBlob]:
        if not section:
            return {}
        tid, ns, cid = record.thread_id, record.checkpoint_ns, record.checkpoint_id
        raw = self._open_payload(section[0], section[1], lambda: self._inline_aad(tid, ns, cid),
                                 lambda: f"inline values of checkpoint {cid!r} of thread {tid!r}")
        out: dict[BlobKey, StoredBlob] = {}
        for ch, ver, typ, data in _unpack(raw):
            if isinstance(ver, list):
                ver = tuple(ver)
            if record.channel_versions.get(ch) != ver:
                continue
            out[(ch, ver)] = StoredBlob(ch, ver, typ, b"", "") if typ == EMPTY_BLOB_TYPE else StoredBlob(ch, ver, typ, data, _OPENED)
        return out

    def _head_aad(self, thread_id: str, ns: str) -> bytes:
        return _aad("s3-head", thread_id, ns)

    def _head_body(self, record: StoredRecord, body: bytes, values: dict[str, Value]) -> tuple[bytes, str] | None:
        """The namespace's head: this record's body, its values not inlined and every list
        element and node its manifests reach, sealed as one object -- or None when this process
        does not hold all of them (the head is an optimisation; readers validate it)."""
        if len(values) != len(record.channel_versions):
            return None
        extras = [[ch, v[0], v[1], v[2]] for ch, v in values.items() if len(v[2]) > _INLINE_MAX]
        entries = [e for v in values.values() if v[1] in MANIFEST_TYPES for e in manifest_entries(v[1], v[2])]
        elements: list[list[Any]] = []
        if entries:
            cache = self._element_cache

            def nodes(digests: list[str]) -> dict[str, bytes]:
                return {d: hit[1] for d, hit in zip(digests, cache.get_many(digests)) if hit is not None and hit[0] == NODE_TYPE}

            try:
                reached = sorted(closure(entries, nodes, strict=True))
            except CkptError:
                return None
            hits = cache.get_many(reached)
            if any(hit is None for hit in hits):
                return None
            elements = [[d, hit[0], hit[1]] for d, hit in zip(reached, hits)]
        size = len(body) + sum(len(x[3]) for x in extras) + sum(len(x[2]) + 24 for x in elements)
        if size > _HEAD_MAX:
            return None
        return self._seal(_pack([body, extras, elements]), self._head_aad(record.thread_id, record.checkpoint_ns))

    def _head_outer(self, thread_id: str, ns: str, checkpoint_id: str) -> bytes:
        """The head object: its sealed section plus the pending writes of its checkpoint this
        process knows (write bodies are sealed on their own and checked against listed ETags)."""
        _rkey, sealed, checksum = self._heads.get((thread_id, ns))
        known = self._wbodies.get((thread_id, ns, checkpoint_id)) or {}
        return _pack([sealed, checksum, [[k, v] for k, v in known.items()]])

    def _put_head(self, thread_id: str, ns: str, checkpoint_id: str) -> None:
        """PUT the namespace's head with every pending write of its checkpoint known now --
        unless a newer head replaced it (or the thread was forgotten) meanwhile. Head PUTs of a
        thread are serialised, so an older head never lands after a newer one from this process."""
        rkey = self._record_key(thread_id, ns, checkpoint_id)
        with self._head_locks[hash(thread_id) % _HEAD_LOCKS]:
            with self._lock:
                current = self._heads.get((thread_id, ns))
                if current is None or current[0] != rkey:
                    return
                outer = self._head_outer(thread_id, ns, checkpoint_id)
            self._put(self._head_key(thread_id, ns), outer)

    def flush_heads(self) -> None:
        """Re-send now every head still waiting for the pending writes that followed it
        (otherwise done ``_HEAD_FLUSH_DELAY`` seconds after the writes, at the next ``put``
        -- which replaces the head -- or at ``close``)."""
        self._deferred.run_pending()

    def _prime_writes(self, thread_id: str, ns: str, checkpoint_id: str, writes: Iterable[Sequence[Any]]) -> None:
        rkey = self._record_key(thread_id, ns, checkpoint_id)
        known: dict[str, bytes] = {}
        for suffix, body in writes:
            if not isinstance(suffix, str) or not suffix.startswith("/") or not isinstance(body, bytes):
                continue
            known[suffix] = body
            self._objects.put(rkey + suffix, (f'"{_md5_etag(body)}"', body), len(body))
        if known:
            with self._lock:
                merged = dict(self._wbodies.get((thread_id, ns, checkpoint_id)) or {})
                merged.update(known)
                self._wbodies.put((thread_id, ns, checkpoint_id), merged, sum(len(v) for v in merged.values()))

    def _prime_from_head(self, thread_id: str, ns: str, head: bytes | None, entry: Entry | None) -> bool:
        """Fill the caches from the namespace's head when it holds the listed latest ``entry``
        (same key, and the listed ETag is the MD5 of the record body it carries): then reading
        that checkpoint needs no further request. False when the head is missing or stale.

        A stale head (an older checkpoint: the head follows its record within
        ``_HEAD_FLUSH_DELAY``) still gives what needs no trust in its age: its list elements
        and nodes (content-addressed: a digest names one value) and its record and write bodies
        (used only where a listing shows their keys with the bodies' MD5). Then only what is
        newer than the head is fetched."""
        if head is None or entry is None or not entry[1]:
            return False
        try:
            sealed, checksum, writes = _unpack(head)
            body, extras, elements = _unpack(self._open_payload(
                sealed, checksum, lambda: self._head_aad(thread_id, ns), lambda: f"head of thread {thread_id!r}"
            ))
            record, section = self._parse_record(body)
        except (CkptError, ValueError, TypeError) as exc:
            logger.warning("%s: ignoring an unreadable head of thread %r: %s", self._where, thread_id, exc)
            return False
        head_key = self._record_key(record.thread_id, record.checkpoint_ns, record.checkpoint_id)
        if (record.thread_id, record.checkpoint_ns) != (thread_id, ns):
            return False
        if _md5_etag(body) != entry[1].strip('"') or head_key != entry[0]:
            self._objects.put(head_key, (f'"{_md5_etag(body)}"', body), len(body))
            self._prime_writes(thread_id, ns, record.checkpoint_id, writes)
            for digest, typ, data in elements:  # not marked stored: their checkpoint may be gone
                self._cache_opened(thread_id, ns, ELEMENT_CHANNEL, digest, typ, data, _OPENED)
            return False
        self._objects.put(entry[0], (entry[1], body), len(body))
        with self._lock:
            self._heads.put((thread_id, ns), (entry[0], sealed, checksum), len(sealed))
        self._prime_writes(thread_id, ns, record.checkpoint_id, writes)
        values: dict[str, Value] = {}
        for (ch, ver), blob in self._open_inline(record, section).items():
            values[ch] = (ver, blob.payload_type, blob.payload)
        for ch, ver, typ, data in extras:
            if isinstance(ver, list):
                ver = tuple(ver)
            values[ch] = (ver, typ, data)
            self._cache_opened(thread_id, ns, ch, ver, typ, data, _OPENED)
        for digest, typ, data in elements:
            self._cache_opened(thread_id, ns, ELEMENT_CHANNEL, digest, typ, data, _OPENED)
            # Reached from a listed record, whose elements were stored before it: the next put
            # of this process need not re-send them (as for elements read from their objects).
            self._known_elements.add((thread_id, ns, digest))
        self._values.put((thread_id, ns), values, sum(len(v[2]) + 64 for v in values.values()))
        return True

    def _cold(self, thread_id: str, ns: str) -> bool:
        """Whether this process has not written or read the namespace lately (its head then pays)."""
        return self._values.get((thread_id, ns)) is None

    def _remember_values(self, bundle: StoredBundle) -> None:
        rec = bundle.record
        values: dict[str, Value] = {}
        for (ch, ver), blob in bundle.blobs.items():
            if blob.payload_type == EMPTY_BLOB_TYPE:
                values[ch] = (ver, EMPTY_BLOB_TYPE, b"")
            elif blob.checksum == _OPENED:
                values[ch] = (ver, blob.payload_type, blob.payload)
        if values:
            self._values.put((rec.thread_id, rec.checkpoint_ns), values, sum(len(v[2]) + 64 for v in values.values()))

    def _locate(self, thread_id: str, ns: str, checkpoint_id: str | None) -> Entry | None:
        """``[key, etag, writes]`` of a record: the latest via one LIST, a given id without I/O."""
        if checkpoint_id is not None:
            return [self._record_key(thread_id, ns, checkpoint_id), None, None]
        return next(self._record_entries(self._ns_dir(thread_id, ns), want=1), None)

    def _read_record(self, thread_id: str, checkpoint_ns: str, checkpoint_id: str | None) -> StoredRecord | None:
        for _attempt in range(3):
            entry = self._locate(thread_id, checkpoint_ns, checkpoint_id)
            if entry is None:
                return None
            raw = self._fetch(entry[0], entry[1])
            if raw is not None:
                return unpack_record(raw)
            if checkpoint_id is not None:
                return None
            # the listed latest was deleted meanwhile: list again
        return None

    def _read_bundle(self, thread_id: str, checkpoint_ns: str, checkpoint_id: str | None) -> StoredBundle | None:
        for _attempt in range(3):
            if checkpoint_id is None and self._cold(thread_id, checkpoint_ns):
                # A cold latest read: the listing and the namespace's head in one parallel round.
                entry, head = self._run([
                    lambda: self._locate(thread_id, checkpoint_ns, None),
                    lambda: self._get(self._head_key(thread_id, checkpoint_ns)),
                ])
                self._prime_from_head(thread_id, checkpoint_ns, head[0] if head else None, entry)
            else:
                entry = self._locate(thread_id, checkpoint_ns, checkpoint_id)
            if entry is None:
                return None
            bundles = self._bundles([(entry, None)])
            if bundles:
                self._remember_values(bundles[0])
                return bundles[0]
            if checkpoint_id is not None:
                return None
        return None

    def _bundles(self, items: Sequence[tuple[Entry, StoredRecord | None]]) -> list[StoredBundle]:
        """Bundles of listed records in two parallel rounds: the records not in cache (and the
        writes listings of entries that did not come from a listing), then every value, list
        element and write body not inline or in cache, of all of them at once."""
        def list_writes(key: str) -> list[tuple[str, str]]:
            return list(self._list_objects(key + "/"))

        jobs: list[Callable[[], Any]] = []
        slots: list[tuple[int | None, int | None]] = []
        for entry, record in items:
            rec_slot = None
            if record is None:
                rec_slot = len(jobs)
                jobs.append(lambda e=entry: self._fetch(e[0], e[1]))
            w_slot = None
            if entry[2] is None:  # not listed: list them
                w_slot = len(jobs)
                jobs.append(lambda e=entry: list_writes(e[0]))
            slots.append((rec_slot, w_slot))
        results = self._run(jobs)
        records: list[StoredRecord | None] = []
        listed_writes: list[list[tuple[str, str]]] = []
        inlined: list[dict[BlobKey, StoredBlob]] = []
        for (entry, record), (rec_slot, w_slot) in zip(items, slots):
            section = entry[3] if len(entry) > 3 else None
            if rec_slot is not None:
                raw = results[rec_slot]
                record, section = self._parse_record(raw) if raw is not None else (None, None)
            records.append(record)
            inlined.append(self._open_inline(record, section) if record is not None else {})
            listed_writes.append(results[w_slot] if w_slot is not None else entry[2])
        # Round two: blob and write bodies of every found record, deduplicated.
        fetch: dict[str, tuple[str, str | None, bool]] = {}
        split: list[tuple[dict[BlobKey, StoredBlob], list[BlobKey]]] = []
        for record, writes, inline in zip(records, listed_writes, inlined):
            if record is None:
                split.append(({}, []))
                continue
            rest = [key for key in record.channel_versions.items() if key not in inline]
            cached, missing = self._split_cached_blobs(record.thread_id, record.checkpoint_ns, rest)
            cached.update(inline)
            split.append((cached, missing))
            for ch, ver in missing:
                key = self._blob_key(record.thread_id, record.checkpoint_ns, ch, ver)
                fetch[key] = (key, None, False)
            for key, etag in writes:
                fetch[key] = (key, etag, True)
        order = list(fetch)
        bodies = dict(zip(order, self._fetch_many([fetch[k] for k in order])))
        out = []
        for record, writes, (cached, missing) in zip(records, listed_writes, split):
            if record is None:
                continue
            blobs = dict(cached)
            for ch, ver in missing:
                raw = bodies.get(self._blob_key(record.thread_id, record.checkpoint_ns, ch, ver))
                if raw is not None:
                    blobs[(ch, ver)] = self._blob_from(ch, ver, raw)
            stored_writes = self._merge_writes((k, bodies.get(k)) for k, _ in writes)
            if writes:
                rkey = self._record_key(record.thread_id, record.checkpoint_ns, record.checkpoint_id)
                self._prime_writes(record.thread_id, record.checkpoint_ns, record.checkpoint_id,
                                   [(k[len(rkey):], bodies[k]) for k, _ in writes if bodies.get(k) is not None and k.startswith(rkey + "/")])
            out.append(StoredBundle(record, blobs, stored_writes))
        return out

    def iter_langgraph_bundles(self, query: RecordQuery) -> Iterator[OpenedBundle]:
        """As the base class, but records, writes listings, blobs and writes of a chunk of
        checkpoints are fetched in parallel rounds, and writes are listed only for
        checkpoints the record listing showed to have some."""
        self._require_open()
        head = None
        first_page = (
            query.thread_id is not None and query.checkpoint_ns is not None and query.checkpoint_id is None
            and query.order == "checkpoint_id" and not query.before_id and not query.offset
            and self._cold(query.thread_id, query.checkpoint_ns)
        )
        if first_page:
            head = self._pool.submit(self._get, self._head_key(query.thread_id, query.checkpoint_ns))
        try:
            entries = self._query_entries(query, head)
        finally:
            if head is not None:
                head.cancel()
        if first_page and entries and self._cold(query.thread_id, query.checkpoint_ns):
            self._values.put((query.thread_id, query.checkpoint_ns), {}, 0)  # warm from now on (its caches are)
        for i in range(0, len(entries), _BUNDLE_CHUNK):
            chunk = entries[i : i + _BUNDLE_CHUNK]
            for bundle in self._bundles([(entry, record) for record, entry in chunk]):
                opened = self._listed_bundle(bundle)
                if opened is not None:
                    yield opened

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

    def _ns_dirs(self, thread_id: str, ns: str | None) -> list[str]:
        if ns is not None:
            return [self._ns_dir(thread_id, ns)]
        return list(self._list(self._records_prefix(thread_id, None), delimiter="/"))

    def _query_records(self, query: RecordQuery) -> Iterator[StoredRecord]:
        return iter([record for record, _entry in self._query_entries(query)])

    def _query_entries(self, query: RecordQuery, head: Future | None = None) -> list[tuple[StoredRecord, Entry]]:
        """Records matching ``query`` (newest first by its order) with their listing entries.

        ``head``: a GET of the namespace's head started beside the listing (a first page read
        cold); when it holds the listed latest record, that record is not fetched again."""
        def load(entries: Sequence[Entry]) -> list[tuple[StoredRecord, Entry]]:
            raws = self._fetch_many([(e[0], e[1], True) for e in entries])
            out = []
            for raw, e in zip(raws, entries):
                if raw is not None:
                    record, section = self._parse_record(raw, include_payload=query.include_payload)
                    out.append((record, [*e[:3], section]))
            return out

        end = None if query.limit is None else query.offset + query.limit
        if query.thread_id is not None and query.checkpoint_ns is not None and query.checkpoint_id is not None:
            entry = [self._record_key(query.thread_id, query.checkpoint_ns, query.checkpoint_id), None, None]
            found = [(r, e) for r, e in load([entry]) if record_matches(r, query)]
            return found[query.offset : end]
        if query.thread_id is not None and query.checkpoint_ns is not None and query.order == "checkpoint_id":
            # Keys sort newest first: read pages of the listing until offset + limit match.
            prefix = self._ns_dir(query.thread_id, query.checkpoint_ns)
            start = self._after_record(self._record_key(query.thread_id, query.checkpoint_ns, query.before_id)) if query.before_id else None
            # Read what the page needs: one listing of ``end`` records (with their writes), and
            # only when filters (kind, metadata, ...) rejected some, further, wider listings.
            found = []
            want = end
            while True:
                entries = list(self._record_entries(prefix, start_after=start, want=want))
                if head is not None:
                    got = head.result()
                    self._prime_from_head(query.thread_id, query.checkpoint_ns, got[0] if got else None, entries[0] if entries else None)
                    head = None
                found += [(r, e) for r, e in load(entries) if record_matches(r, query)]
                if want is None or end is None or len(entries) < want or len(found) >= end:
                    break
                start = self._after_record(entries[-1][0])
                want = min(1000, 2 * want)
            found.sort(key=lambda item: sort_key(query)(item[0]), reverse=True)  # hashed long ids: re-sort
            return found[query.offset : end]
        threads = [query.thread_id] if query.thread_id is not None else self._thread_ids_listed()
        found = []
        for tid in threads:
            for ns_dir in self._ns_dirs(tid, query.checkpoint_ns):
                entries = list(self._record_entries(ns_dir))
                found += [(r, e) for r, e in load(entries) if record_matches(r, query)]
        found.sort(key=lambda item: sort_key(query)(item[0]), reverse=True)
        return found[query.offset : end]

    @staticmethod
    def _blob_from(channel: str, version: ChannelVersion, raw: bytes) -> StoredBlob:
        typ, data, checksum = _unpack(raw)[:3]
        return StoredBlob(channel, version, typ, data, checksum)

    @staticmethod
    def _writes_from(raw: bytes) -> list[StoredWrite]:
        """The writes of one write object: a single write (7 fields) or a pack (``[tag, writes]``)."""
        fields = _unpack(raw)
        if len(fields) == 2 and fields[0] == _PACK_TAG:
            return [StoredWrite(*w) for w in fields[1]]
        task_id, idx, channel, typ, payload, checksum, task_path = fields
        return [StoredWrite(task_id, idx, channel, typ, payload, checksum, task_path)]

    @classmethod
    def _merge_writes(cls, objects: Iterable[tuple[str, bytes | None]]) -> list[StoredWrite]:
        """The writes of a checkpoint's write objects. A ``(task, idx)`` held by two objects (two
        writers of the same task racing with different write sets) keeps the one of the first key,
        so every reader returns the same writes."""
        seen: set[tuple[str, int]] = set()
        out: list[StoredWrite] = []
        for _key, raw in sorted((k, r) for k, r in objects if r is not None):
            for w in cls._writes_from(raw):
                if (w.task_id, w.idx) not in seen:
                    seen.add((w.task_id, w.idx))
                    out.append(w)
        return out

    def _read_blobs(self, thread_id: str, checkpoint_ns: str, keys: Sequence[BlobKey]) -> dict[BlobKey, StoredBlob]:
        raws = self._get_many([self._blob_key(thread_id, checkpoint_ns, ch, ver) for ch, ver in keys])
        return {(ch, ver): self._blob_from(ch, ver, raw) for (ch, ver), raw in zip(keys, raws) if raw is not None}

    def _write_writes(self, thread_id: str, checkpoint_ns: str, checkpoint_id: str, writes: Sequence[StoredWrite], *, replace: bool) -> None:
        prefix = self._writes_prefix(thread_id, checkpoint_ns, checkpoint_id)
        rkey = self._record_key(thread_id, checkpoint_ns, checkpoint_id)
        rows = [[w.task_id, w.idx, w.channel, w.payload_type, w.payload, w.checksum, w.task_path] for w in writes]
        if not replace and len(writes) > 1 and len({w.task_id for w in writes}) == 1:
            # One task's insert-if-absent writes of one call: one object, named by the task, its
            # first index and the count. A retry of the call is refused whole (its first writes
            # stay); a different write set of the same task (a racing writer) gets another key
            # and readers keep, per (task, idx), the write of the first key (_merge_writes).
            first = min(w.idx for w in writes)
            items = [(f"{prefix}{_enc(writes[0].task_id)}.{first}+{len(writes)}", _pack([_PACK_TAG, rows]))]
        else:  # replaced (special) writes stay one object each: each is overwritten on its own
            # One object per (task, idx): a call may carry the same key several times (LangGraph
            # sends each resume value of a task), and the PUTs run in parallel, so only one of
            # them is sent -- the last for a replace (as the store would end), the first otherwise.
            by_key: dict[str, bytes] = {}
            for row in rows:
                key = f"{prefix}{_enc(row[0])}.{row[1]}"
                if replace or key not in by_key:
                    by_key[key] = _pack(row)
            items = list(by_key.items())
        with self._lock:
            merged = dict(self._wbodies.get((thread_id, checkpoint_ns, checkpoint_id)) or {})
            merged.update((key[len(rkey) :], body) for key, body in items)
            self._wbodies.put((thread_id, checkpoint_ns, checkpoint_id), merged, sum(len(v) for v in merged.values()))
            head = self._heads.get((thread_id, checkpoint_ns))
            ours = head is not None and head[0] == rkey
        # Insert-if-absent for regular writes is the store's own conditional PUT. The head is
        # re-sent with the writes' bodies (a reader uses a body only when the listing shows that
        # key with the body's MD5, so a write that did not land is simply fetched): at once beside
        # special writes (an interrupt or error: the run stops here), else after a short delay,
        # which the next ``put`` usually makes pointless (its head replaces this one, its record
        # carries these writes). Until then a cold reader GETs the writes the head lacks.
        jobs: list[Callable[[], Any]] = [
            lambda item=item: self._put(item[0], item[1], if_none_match=not replace, cache=True) for item in items
        ]
        now = ours and any(w.idx < 0 for w in writes)
        if now:
            self._deferred.cancel((thread_id, checkpoint_ns))
            jobs.append(lambda: self._put_head(thread_id, checkpoint_ns, checkpoint_id))
        done = self._run(jobs)
        if ours and not now:
            self._deferred.schedule((thread_id, checkpoint_ns), lambda: self._put_head(thread_id, checkpoint_ns, checkpoint_id))
        refused = {key[len(rkey) :] for (key, _body), ok in zip(items, done) if not ok}
        if refused:  # the first write of that (task, idx) stays: forget ours
            with self._lock:
                known = self._wbodies.get((thread_id, checkpoint_ns, checkpoint_id)) or {}
                self._wbodies.put((thread_id, checkpoint_ns, checkpoint_id), {k: v for k, v in known.items() if k not in refused}, 0)

    def _read_writes(self, thread_id: str, checkpoint_ns: str, checkpoint_id: str) -> list[StoredWrite]:
        listed = list(self._list_objects(self._writes_prefix(thread_id, checkpoint_ns, checkpoint_id)))
        raws = self._fetch_many([(k, etag, True) for k, etag in listed])
        return self._merge_writes(zip([k for k, _ in listed], raws))

    def _update_record(self, thread_id: str, checkpoint_ns: str, checkpoint_id: str, *, status: str | None = None,
                       metadata: dict[str, Any] | None = None, tags: list[str] | None = None, updated_at: float) -> bool:
        key = self._record_key(thread_id, checkpoint_ns, checkpoint_id)
        for _attempt in range(5):
            got = self._get(key)
            if got is None:
                return False
            rec = apply_update(unpack_record(got[0]), status=status, metadata=metadata, tags=tags, updated_at=updated_at)
            body = self._record_body(rec, {}, extra=_unpack(got[0])[16:])
            if self._put(key, body, if_match=got[1] or None, cache=True):
                return True
        raise BackendUnavailableError(f"{self._where}: checkpoint {checkpoint_id!r} kept changing while being updated")

    def _delete_checkpoints(self, thread_id: str, keys: Sequence[tuple[str, str]]) -> int:
        wanted = {self._record_key(thread_id, ns, cid) for ns, cid in keys}
        if len(wanted) <= _HEAD_PROBES:
            probes = sorted(wanted)
            exists = self._run([lambda k=k: self._head(k) for k in probes])
            existing = [k for k, ok in zip(probes, exists) if ok]
            with_writes = probes  # unknown: list each
        else:
            existing, with_writes = [], []
            for ns_dir in {self._ns_dir(thread_id, ns) for ns, _cid in keys}:
                listed = self._list_objects(ns_dir, delimiter=None)
                for key, _etag in listed:
                    rel = key[len(ns_dir) :]
                    record_key = ns_dir + rel.split("/", 1)[0]
                    if record_key not in wanted:
                        continue
                    if "/" in rel:
                        if not with_writes or with_writes[-1] != record_key:
                            with_writes.append(record_key)
                    else:
                        existing.append(key)
        # Records first: once a record is gone nothing points at its writes.
        self._delete_keys(existing)
        listed_writes = self._run([lambda k=k: list(self._list(k + "/")) for k in with_writes])
        self._delete_keys(k for keys_ in listed_writes for k in keys_)
        return len(existing)

    def _forget_thread(self, thread_id: str) -> None:
        """Drop what this process remembers of a thread's values, writes and head (a thread
        re-created under the same id reuses channel versions with other values)."""
        self._deferred.cancel_where(lambda k: k[0] == thread_id)
        with self._head_locks[hash(thread_id) % _HEAD_LOCKS]:  # a head PUT under way lands first
            self._heads.discard_where(lambda k: k[0] == thread_id)
        self._values.discard_where(lambda k: k[0] == thread_id)
        self._wbodies.discard_where(lambda k: k[0] == thread_id)

    def _delete_thread(self, thread_id: str) -> None:
        self._forget_thread(thread_id)
        directory = self._thread_dir(thread_id)
        keys = list(self._list(directory))
        records = [k for k in keys if k.startswith(directory + "r/") and k[len(directory) + 2 :].count("/") == 1]
        self._delete_keys(records)  # records first, then everything they referenced
        rest = set(records)
        self._delete_keys(k for k in keys if k not in rest)

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
        self._values.discard_where(lambda k: k[0] == thread_id)
        return self._delete_keys(self._blob_key(thread_id, ns, ch, v) for ns, ch, v in keys)

