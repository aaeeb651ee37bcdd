"""One suite for both storage backends: a directory under the test's tmp_path, and a new bucket on moto's S3 server."""

from __future__ import annotations

import asyncio
import hashlib
import time
import tracemalloc
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import boto3
import httpx
import pytest
from minio.error import S3Error

from services.documents.settings import Settings
from services.documents.storage import READ_CHUNK, ObjectMissing, Storage, open_storage
from services.documents.storage.local import INCOMING, LocalStorage
from services.documents.storage.s3 import PART_SIZE, S3Storage
from services.documents.tests.conftest import s3_settings
from tests.harness.rabbit import free_port
from tests.harness.samples import CASE_01_DIR

MIB = 1024 * 1024
SAMPLE = CASE_01_DIR / "upper_jaw.stl"
KEY = f"cases/{uuid.uuid4()}/{uuid.uuid4()}"


@pytest.fixture(params=["local", "s3"])
async def storage(request: pytest.FixtureRequest, tmp_path: Path) -> Storage:
    """A prepared, empty storage of each backend in turn."""
    if request.param == "s3":
        settings = s3_settings(tmp_path, request.getfixturevalue("s3_endpoint"))
    else:
        settings = Settings(env="test", data_dir=tmp_path)
    opened = open_storage(settings)
    await opened.prepare()
    return opened


async def in_progress(storage: Storage) -> list[str]:
    """What a put in progress leaves while it runs: temporary files in ``.incoming``, or incomplete multipart uploads
    (asked with boto3, not the client under test)."""
    if isinstance(storage, LocalStorage):
        return sorted(path.name for path in (storage.root / INCOMING).iterdir())
    assert isinstance(storage, S3Storage)
    client = boto3.client(
        "s3",
        endpoint_url=f"http://{storage.endpoint}",
        region_name="us-east-1",
        aws_access_key_id="test",
        aws_secret_access_key="test",
    )
    answer = await asyncio.to_thread(client.list_multipart_uploads, Bucket=storage.bucket)
    return sorted(upload["Key"] for upload in answer.get("Uploads", []))


async def chunked(data: bytes, size: int) -> AsyncIterator[bytes]:
    """``data`` in chunks of ``size`` bytes."""
    for start in range(0, len(data), size):
        yield data[start : start + size]


async def generated(total: int, size: int = MIB) -> AsyncIterator[bytes]:
    """``total`` bytes in new chunks of ``size`` bytes, chunk ``i`` filled with byte ``i % 256``."""
    for index in range(total // size):
        yield bytes([index % 256]) * size


async def read_all(storage: Storage, key: str, start: int = 0, length: int | None = None) -> list[bytes]:
    """The chunks ``read`` yields."""
    return [chunk async for chunk in storage.read(key, start, length)]


class Aborted(Exception):
    """The client went away."""


async def test_sample_scan_reads_back_byte_identical(storage: Storage) -> None:
    data = SAMPLE.read_bytes()
    assert len(data) > 4 * MIB

    stored = await storage.put(KEY, chunked(data, 64 * 1024), content_type="model/stl")

    chunks = await read_all(storage, KEY)
    assert stored == len(data)
    assert hashlib.sha256(b"".join(chunks)).hexdigest() == hashlib.sha256(data).hexdigest()
    assert max(len(chunk) for chunk in chunks) <= READ_CHUNK
    assert await storage.size(KEY) == len(data)
    assert await storage.keys() == [KEY]
    assert await in_progress(storage) == []


async def test_range_reads(storage: Storage) -> None:
    data = bytes(range(256)) * (3 * MIB // 256 + 7)
    await storage.put(KEY, chunked(data, 100_000), content_type="application/octet-stream")
    end = len(data)

    async def joined(start: int, length: int | None = None) -> bytes:
        return b"".join(await read_all(storage, KEY, start, length))

    assert await joined(1_000_001) == data[1_000_001:]
    assert await joined(5, 2 * MIB + 3) == data[5 : 5 + 2 * MIB + 3]
    assert await joined(end - 1) == data[-1:]
    assert await joined(end - 1, 1) == data[-1:]
    assert await joined(end - 10, 100) == data[-10:]
    assert await joined(end) == b""
    assert await joined(end + 5, 3) == b""
    assert await joined(7, 0) == b""
    assert max(len(chunk) for chunk in await read_all(storage, KEY, 3)) <= READ_CHUNK
    with pytest.raises(ValueError):
        await joined(-1)
    with pytest.raises(ValueError):
        await joined(0, -1)


async def test_delete_then_missing(storage: Storage) -> None:
    await storage.put(KEY, chunked(b"scan", 2), content_type="model/stl")

    await storage.delete(KEY)

    with pytest.raises(ObjectMissing):
        await anext(storage.read(KEY))
    with pytest.raises(ObjectMissing):
        await anext(storage.read(KEY, 0, 0))
    with pytest.raises(ObjectMissing):
        await storage.size(KEY)
    await storage.delete(KEY)
    assert await storage.keys() == []


async def test_a_directory_of_keys_is_no_object(storage: Storage) -> None:
    await storage.put("cases/a/b", chunked(b"x", 1), content_type="image/png")

    with pytest.raises(ObjectMissing):
        await anext(storage.read("cases/a"))
    with pytest.raises(ObjectMissing):
        await storage.size("cases/a")
    with pytest.raises(ObjectMissing):
        await storage.size("cases/a/b/c")
    await storage.delete("cases/a")
    assert await storage.keys() == ["cases/a/b"]


async def test_keys_under_a_prefix(storage: Storage) -> None:
    names = ["cases/b/2", "cases/a/1", "cases/ab/3", "cases/a/0.jpg", "labels/x"]
    for name in names:
        await storage.put(name, chunked(name.encode(), 4), content_type="image/jpeg")

    assert await storage.keys() == sorted(names)
    assert await storage.keys("cases/a/") == ["cases/a/0.jpg", "cases/a/1"]
    assert await storage.keys("cases/a") == ["cases/a/0.jpg", "cases/a/1", "cases/ab/3"]
    assert await storage.keys("cases/") == sorted(names[:4])
    assert await storage.keys("c") == sorted(names[:4])
    assert await storage.keys("cases/zz/") == []
    with pytest.raises(ValueError):
        await storage.keys("../cases/")


async def test_put_replaces_an_object(storage: Storage) -> None:
    await storage.put(KEY, chunked(b"first version, longer", 5), content_type="image/png")

    stored = await storage.put(KEY, chunked(b"second", 5), content_type="image/png")

    assert stored == 6
    assert b"".join(await read_all(storage, KEY)) == b"second"
    assert await storage.size(KEY) == 6
    assert await storage.keys() == [KEY]


async def test_failing_chunks_leave_nothing_and_their_exception_propagates(storage: Storage) -> None:
    aborted = Aborted("the client went away")
    while_running: list[list[str]] = []

    async def failing() -> AsyncIterator[bytes]:
        async for chunk in generated(40 * MIB):
            yield chunk
        while_running.append(await in_progress(storage))
        raise aborted

    with pytest.raises(Aborted) as raised:
        await storage.put(KEY, failing(), content_type="model/stl")

    assert raised.value is aborted
    [running] = while_running
    assert running == [KEY] if storage.backend == "s3" else len(running) == 1
    assert await storage.keys() == []
    assert await in_progress(storage) == []


async def test_failed_replacement_keeps_the_previous_object(storage: Storage) -> None:
    await storage.put(KEY, chunked(b"previous", 3), content_type="model/stl")

    async def failing() -> AsyncIterator[bytes]:
        async for chunk in generated(40 * MIB):
            yield chunk
        raise Aborted

    with pytest.raises(Aborted):
        await storage.put(KEY, failing(), content_type="model/stl")

    assert b"".join(await read_all(storage, KEY)) == b"previous"
    assert await storage.keys() == [KEY]
    assert await in_progress(storage) == []


async def test_cancelled_put_leaves_nothing(storage: Storage) -> None:
    async def stalled() -> AsyncIterator[bytes]:
        async for chunk in generated(20 * MIB):
            yield chunk
        await asyncio.Event().wait()

    putting = asyncio.create_task(storage.put(KEY, stalled(), content_type="model/stl"))
    deadline = time.monotonic() + 30
    while not await in_progress(storage):
        assert time.monotonic() < deadline and not putting.done()
        await asyncio.sleep(0.05)

    putting.cancel()

    with pytest.raises(asyncio.CancelledError):
        await putting
    assert await storage.keys() == []
    assert await in_progress(storage) == []


async def test_a_failing_backend_fails_the_put_without_reading_everything(storage: Storage, tmp_path: Path) -> None:
    if isinstance(storage, S3Storage):
        unusable: Storage = open_storage(s3_settings(tmp_path, storage.endpoint))
        expected: type[Exception] = S3Error
    else:
        (tmp_path / "a-file").write_bytes(b"")
        unusable, expected = LocalStorage(tmp_path / "a-file"), FileExistsError
    sent: list[int] = []

    async def counted() -> AsyncIterator[bytes]:
        async for chunk in generated(100 * MIB):
            sent.append(len(chunk))
            yield chunk

    with pytest.raises(expected):
        await asyncio.wait_for(unusable.put(KEY, counted(), content_type="model/stl"), 30)

    assert sum(sent) < 100 * MIB


async def test_memory_stays_bounded(storage: Storage) -> None:
    total = 80 * MIB
    tracemalloc.start()
    try:
        stored = await storage.put(KEY, generated(total), content_type="model/stl")
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()

    assert stored == total
    assert peak < (4 * PART_SIZE if storage.backend == "s3" else 16 * MIB)


async def test_abandoned_read_releases_the_object(storage: Storage) -> None:
    await storage.put(KEY, generated(4 * MIB), content_type="model/stl")

    for _ in range(12):
        reading = storage.read(KEY)
        assert len(await anext(reading)) == MIB
        await reading.aclose()

    assert len(b"".join(await read_all(storage, KEY))) == 4 * MIB


@pytest.mark.parametrize(
    "key", ["", "/cases/a", "cases/../a", "..", "cases/./a", "cases\\a", "Cases/a", "cases/a b", "cases//a", "cases/a/"]
)
async def test_invalid_keys_are_refused(storage: Storage, key: str) -> None:
    with pytest.raises(ValueError):
        await storage.put(key, chunked(b"x", 1), content_type="image/png")
    with pytest.raises(ValueError):
        await anext(storage.read(key))
    with pytest.raises(ValueError):
        await storage.size(key)
    with pytest.raises(ValueError):
        await storage.delete(key)
    with pytest.raises(ValueError):
        storage.signed_url(key, content_disposition="attachment", content_type="image/png")
    assert await storage.keys() == []


async def test_hidden_and_overlong_keys_are_refused(storage: Storage) -> None:
    longest = "/".join(["a" * 255] * 4)
    for key in [f"{INCOMING}/x", "cases/.a", "a" * 256, f"{longest}/a"]:
        with pytest.raises(ValueError):
            await storage.put(key, chunked(b"x", 1), content_type="image/png")
    await storage.put(longest, chunked(b"x", 1), content_type="image/png")
    assert await storage.keys() == [longest]


async def test_check_is_none_when_ready(storage: Storage) -> None:
    assert await storage.check() is None


async def test_check_gives_a_reason_quickly_when_unreachable(tmp_path: Path, s3_endpoint: str) -> None:
    closed = open_storage(s3_settings(tmp_path, f"127.0.0.1:{free_port()}"))
    no_bucket = open_storage(s3_settings(tmp_path, s3_endpoint))
    missing = LocalStorage(tmp_path / "missing")

    started = time.monotonic()
    reasons = [await closed.check(), await no_bucket.check(), await missing.check()]

    assert all(isinstance(reason, str) and reason for reason in reasons), reasons
    assert "unreachable" in str(reasons[0]) and "does not exist" in str(reasons[1])
    assert time.monotonic() - started < 6


async def test_signed_url_is_fetched_from_the_public_endpoint(tmp_path: Path, s3_endpoint: str) -> None:
    port = s3_endpoint.rpartition(":")[2]
    settings = s3_settings(
        tmp_path, f"127.0.0.1:{port}", s3_public_endpoint=f"localhost:{port}", signed_url_seconds=120
    )
    storage = open_storage(settings)
    await storage.prepare()
    data = SAMPLE.read_bytes()[: 2 * MIB]
    await storage.put(KEY, chunked(data, 256 * 1024), content_type="application/octet-stream")
    disposition = "attachment; filename=\"upper jaw.stl\"; filename*=UTF-8''m%C3%A2choire%20sup.stl"

    url = storage.signed_url(KEY, content_disposition=disposition, content_type="model/stl")

    assert url is not None
    parts = urlsplit(url)
    query = parse_qs(parts.query)
    assert parts.scheme == "http" and parts.netloc == f"localhost:{port}"
    assert query["X-Amz-Expires"] == ["120"]
    assert query["X-Amz-Algorithm"] == ["AWS4-HMAC-SHA256"]
    assert query["X-Amz-Credential"][0].endswith("/us-east-1/s3/aws4_request")
    assert len(query["X-Amz-Signature"][0]) == 64
    async with httpx.AsyncClient(timeout=10) as client:
        answer = await client.get(url)
    assert answer.status_code == 200
    assert answer.content == data
    assert answer.headers["content-disposition"] == disposition
    assert answer.headers["content-type"] == "model/stl"


async def test_signing_opens_no_connection(tmp_path: Path) -> None:
    settings = s3_settings(
        tmp_path, f"127.0.0.1:{free_port()}", s3_public_endpoint="files.example.invalid", s3_public_secure=True
    )

    url = open_storage(settings).signed_url(KEY, content_disposition="inline", content_type="image/jpeg")

    assert url is not None and url.startswith(f"https://files.example.invalid/{settings.s3_bucket}/{KEY}?")


def test_public_endpoint_defaults_to_the_internal_one(tmp_path: Path) -> None:
    settings = s3_settings(tmp_path, "s3.internal:9000", s3_secure=True)

    url = open_storage(settings).signed_url(KEY, content_disposition="inline", content_type="image/jpeg")

    assert url is not None and url.startswith(f"https://s3.internal:9000/{settings.s3_bucket}/")


def test_open_storage_follows_the_settings(tmp_path: Path) -> None:
    local = open_storage(Settings(env="test", data_dir=tmp_path))
    remote = open_storage(s3_settings(tmp_path, "127.0.0.1:9000"))

    assert isinstance(local, LocalStorage) and local.backend == "local" and local.root == tmp_path / "objects"
    assert isinstance(remote, S3Storage) and remote.backend == "s3" and remote.endpoint == "127.0.0.1:9000"


def test_local_storage_has_no_signed_url(tmp_path: Path) -> None:
    local = open_storage(Settings(env="test", data_dir=tmp_path))

    assert local.signed_url(KEY, content_disposition="inline", content_type="image/png") is None
