"""Objects in a bucket of an S3-compatible server (MinIO, AWS S3) through the ``minio`` client, whose blocking calls
run in threads."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Final

import urllib3
from minio import Minio
from minio.error import MinioException, S3Error

from services.documents.storage import (
    CHECK_SECONDS,
    READ_CHUNK,
    ChunkReader,
    ObjectMissing,
    Storage,
    check_key,
    check_prefix,
    check_range,
)

PART_SIZE: Final = 16 * 1024 * 1024
"""Bytes per part of a multipart upload (16 MiB: S3 wants 5 MiB to 5 GiB, at most 10,000 parts), also the most
:meth:`S3Storage.put` buffers. Objects smaller than one part go up in one ``PutObject``."""

_MISSING: Final = "NoSuchKey"


class S3Storage(Storage):
    """Objects in ``bucket`` on the S3 server at ``endpoint`` (``host:port``; TLS when ``secure``), signed with
    AWS Signature Version 4 for ``region`` (given, so the client never asks the server for it).

    Signed URLs name ``public_endpoint`` (TLS when ``public_secure``), the address clients outside the deployment's
    network use, and are valid ``signed_url_seconds``. Data calls use minio's default connection pool (5 retries on
    5xx answers); :meth:`check` uses a pool of its own without retries and with short timeouts.
    """

    backend = "s3"

    def __init__(
        self,
        endpoint: str,
        *,
        access_key: str,
        secret_key: str,
        bucket: str,
        region: str,
        secure: bool,
        public_endpoint: str,
        public_secure: bool,
        signed_url_seconds: int,
    ) -> None:
        self.endpoint = endpoint
        """The server's ``host:port`` as the service reaches it."""
        self.bucket = bucket
        """The bucket of the objects."""
        self._region = region
        self._signed_for = timedelta(seconds=signed_url_seconds)
        credentials = {"access_key": access_key, "secret_key": secret_key, "region": region}
        self._client = Minio(endpoint, secure=secure, **credentials)
        probe_timeout = urllib3.Timeout(connect=CHECK_SECONDS / 2, read=CHECK_SECONDS / 2)
        self._probe = Minio(
            endpoint,
            secure=secure,
            http_client=urllib3.PoolManager(timeout=probe_timeout, retries=False),
            **credentials,
        )
        self._public = Minio(public_endpoint, secure=public_secure, **credentials)

    async def prepare(self) -> None:
        """Create the bucket (in ``region``) when it does not exist; another process creating it at the same time is
        fine."""
        if await asyncio.to_thread(self._client.bucket_exists, self.bucket):
            return
        try:
            await asyncio.to_thread(self._client.make_bucket, self.bucket, self._region)
        except S3Error as exc:
            if exc.code != "BucketAlreadyOwnedByYou":
                raise

    async def check(self) -> str | None:
        """None when the server answers and the bucket exists, else why not, within about ``CHECK_SECONDS``."""
        try:
            exists = await asyncio.wait_for(asyncio.to_thread(self._probe.bucket_exists, self.bucket), CHECK_SECONDS)
        except TimeoutError:
            return f"S3 at {self.endpoint} did not answer within {CHECK_SECONDS:g} s"
        except S3Error as exc:
            return f"S3 at {self.endpoint} refused: {exc.code}"
        except (MinioException, urllib3.exceptions.HTTPError, OSError) as exc:
            return f"S3 at {self.endpoint} unreachable: {type(exc).__name__}"
        return None if exists else f"bucket {self.bucket} does not exist on {self.endpoint}"

    def _store(self, key: str, source: ChunkReader, content_type: str) -> None:
        """``put_object`` of unknown length: one ``PutObject`` below :data:`PART_SIZE` bytes, else a multipart upload
        of parts sent one at a time (minio's parallel parts would hold several in memory). When reading ``source``
        or sending fails, minio's ``put_object`` itself aborts the multipart upload (minio 7.2 ``api.py``: ``except
        Exception: ... _abort_multipart_upload``) before re-raising; as parts go one at a time, none is in flight
        then, so nothing is left."""
        self._client.put_object(
            self.bucket,
            key,
            source,
            length=-1,
            content_type=content_type,
            part_size=PART_SIZE,
            num_parallel_uploads=1,
        )

    async def read(self, key: str, start: int = 0, length: int | None = None) -> AsyncIterator[bytes]:
        """A ``GetObject`` with a ``Range`` header when a range is asked (RFC 9110, 14.1.2), streamed in chunks of at
        most ``READ_CHUNK`` bytes read in a thread each; the response is closed and its connection released however
        the iteration ends. :class:`ObjectMissing` when there is no object."""
        check_key(key)
        check_range(start, length)
        if length == 0:
            await self.size(key)
            return
        try:
            response = await asyncio.to_thread(
                self._client.get_object, self.bucket, key, offset=start, length=length or 0
            )
        except S3Error as exc:
            if exc.code == _MISSING:
                raise ObjectMissing(key) from None
            if exc.code == "InvalidRange":
                return
            raise
        try:
            while chunk := await asyncio.to_thread(response.read, READ_CHUNK):
                yield chunk
        finally:
            response.close()
            response.release_conn()

    async def size(self, key: str) -> int:
        """The object's size (``HeadObject``'s ``Content-Length``); :class:`ObjectMissing` when there is none."""
        check_key(key)
        try:
            status = await asyncio.to_thread(self._client.stat_object, self.bucket, key)
        except S3Error as exc:
            if exc.code == _MISSING:
                raise ObjectMissing(key) from None
            raise
        return int(status.size or 0)

    async def delete(self, key: str) -> None:
        """``DeleteObject``, which S3 answers with success when there is no object."""
        check_key(key)
        await asyncio.to_thread(self._client.remove_object, self.bucket, key)

    async def keys(self, prefix: str = "") -> list[str]:
        """The keys ``ListObjectsV2`` gives for ``prefix`` (every page), sorted."""
        return await asyncio.to_thread(self._keys, check_prefix(prefix))

    def signed_url(self, key: str, *, content_disposition: str, content_type: str) -> str:
        """A presigned ``GET`` URL on the public endpoint (AWS Signature Version 4 query parameters:
        ``X-Amz-Algorithm``, ``X-Amz-Credential``, ``X-Amz-Date``, ``X-Amz-Expires`` = ``signed_url_seconds``,
        ``X-Amz-SignedHeaders``, ``X-Amz-Signature``) carrying ``response-content-disposition`` and
        ``response-content-type``, which S3's ``GetObject`` answers as those headers (Amazon S3 API Reference,
        GetObject). Computed locally: no connection is opened."""
        check_key(key)
        return self._public.presigned_get_object(
            self.bucket,
            key,
            expires=self._signed_for,
            response_headers={
                "response-content-disposition": content_disposition,
                "response-content-type": content_type,
            },
        )

    def _keys(self, prefix: str) -> list[str]:
        listed = self._client.list_objects(self.bucket, prefix=prefix or None, recursive=True)
        return sorted(item.object_name for item in listed if item.object_name is not None)
