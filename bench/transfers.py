"""Benchmark 4, uploads and downloads: a large arch scan and the ten records of the sample case-01 sent through the
gateway and read back, with the filesystem backend and with the S3 backend (moto's server), against copying the
same bytes with ``cp`` and putting and getting them with the ``minio`` client directly.

The large scan is a well-formed binary STL of 299 MB, just under the upload limit (triangles of the sample's upper
arch, repeated). While a file travels, the resident memory of the gateway and of the documents service is sampled
every 20 ms; what counts is its peak above the process's memory at rest just before. Goals: throughput ≥ 0.5 of the
ceiling; each process's peak < 150 MB over rest.
"""

from __future__ import annotations

import asyncio
import functools
import os
import struct
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import psutil
from minio import Minio

from bench import seed
from bench.context import Context
from bench.processes import System, cpu_seconds, system
from bench.profiles import Profile, during, profile_table
from bench.report import Goal, Section, Table
from shared.cli.samples import CASE_01, samples_dir
from tests.harness.s3 import moto_server

TITLE = "4. Uploads and downloads"
SCAN_BYTES = 299_000_000
"""The large scan's size: just under the upload limit (``PORTAL_UPLOAD_MAX_BYTES``, 300,000,000 by default)."""
SCAN_SLOT = "scan.upper"
THROUGHPUT_GOAL = 0.5
MEMORY_GOAL_MB = 150.0
MB = 1024 * 1024
CEILING_BUCKET = "bench-ceiling"


def run(context: Context) -> Section:
    """Measure the ceilings, then both backends through the gateway."""
    section = Section(TITLE)
    columns = ["what", "backend", "MB", "MB/s", "ratio to ceiling", "gateway peak MB over rest"]
    columns += ["documents peak MB over rest", "gateway CPU ms/MB", "documents CPU ms/MB"]
    table = Table("Through the gateway and directly", columns)
    with tempfile.TemporaryDirectory(prefix="portal-bench-") as folder, moto_server() as endpoint:
        scan = large_scan(Path(folder) / "scan.stl", context.count(SCAN_BYTES, 16 * MB))
        records = [samples_dir() / "case-01" / name for name in CASE_01.values()]
        size = {"scan": scan.stat().st_size, "case-01": sum(path.stat().st_size for path in records)}
        ceilings = _ceilings(Path(folder), endpoint, scan, records)
        for (what, backend), rate in ceilings.items():
            megabytes = size[what.split()[0]] / MB
            table.rows.append([f"{what}, directly", backend, megabytes, rate / MB, 1.0, *[None] * 4])
        s3 = {"PORTAL_STORAGE_BACKEND": "s3", "PORTAL_S3_ENDPOINT": endpoint, "PORTAL_S3_BUCKET": "bench-portal"}
        for backend, env in (("filesystem", {}), ("S3", s3)):
            with system(env) as portal:
                floors = {what: rate * THROUGHPUT_GOAL for (what, kind), rate in ceilings.items() if kind == backend}
                passed, profiles = _through_gateway(portal, scan, records, floors, context.seconds(3, 1))
                section.tables += [profile_table(found, f"{what}, {backend}: {TOO_SLOW}") for what, found in profiles]
                for what, (rate, measured) in passed.items():
                    ratio = rate / ceilings[(what, backend)]
                    table.rows.append([what, backend, size[what.split()[0]] / MB, rate / MB, ratio, *measured.values()])
                    section.goals.append(Goal(f"{what}, {backend}: MB/s / ceiling", ratio, THROUGHPUT_GOAL))
                    for process in ("gateway", "documents"):
                        peak = measured[process]
                        goal = Goal(f"{what}, {backend}: {process} peak MB over rest", peak, MEMORY_GOAL_MB, False)
                        section.goals.append(goal)
    section.tables.insert(0, table)
    section.notes.append(
        "Ceilings: `cp` of the same files on the same filesystem (filesystem backend) and the `minio` client's "
        "`fput_object`/`fget_object` against the same moto server (S3 backend). S3 downloads through the gateway "
        "answer 307 to a signed URL that the client follows to the S3 server."
    )
    section.notes.append(
        "What holds the slow ones back, by the profiles: `cp` copies inside the kernel (`copy_file_range`) and does "
        "not fsync; through the system the bytes cross HTTP twice (client → gateway → documents), the gateway parses "
        "the multipart form (python-multipart), the documents service hashes every byte (SHA-256), checks its "
        "content as it arrives, writes it from a worker thread and fsyncs the file before answering (a medical "
        "record must be on disk when the upload says it is stored); for photos it also makes a thumbnail (Pillow) "
        "and, with S3, the `minio` client hashes each part again to sign it (SigV4 over plain HTTP). Nothing here "
        "was changed in this round: the byte path already streams (no file is held whole in "
        "memory), and the rest is the work a stored record needs."
    )
    return section


def large_scan(path: Path, size: int) -> Path:
    """A binary STL of about ``size`` bytes at ``path``: the sample upper arch's triangles, repeated."""
    sample = (samples_dir() / "case-01" / CASE_01[SCAN_SLOT]).read_bytes()
    triangles = sample[84 : 84 + 50 * ((len(sample) - 84) // 50)]
    count = (size - 84) // 50
    with path.open("wb") as out:
        out.write(sample[:80] + struct.pack("<I", count))
        written = 0
        while written < count:
            chunk = triangles[: 50 * min(count - written, len(triangles) // 50)]
            out.write(chunk)
            written += len(chunk) // 50
    return path


def _ceilings(folder: Path, endpoint: str, scan: Path, records: list[Path]) -> dict[tuple[str, str], float]:
    """Bytes per second of each transfer done directly, by (what, backend)."""
    client = Minio(endpoint, access_key="bench", secret_key="bench-secret", secure=False)
    client.make_bucket(CEILING_BUCKET)
    found = {}
    for what, files in (("scan", [scan]), ("case-01", records)):
        total = sum(path.stat().st_size for path in files)
        copies = [folder / f"copy-{path.name}" for path in files]
        found[(f"{what} upload", "filesystem")] = total / _timed(_cp, files, copies)
        found[(f"{what} download", "filesystem")] = total / _timed(_cp, copies, [folder / "back"] * len(files))
        found[(f"{what} upload", "S3")] = total / _timed(_put, client, files)
        found[(f"{what} download", "S3")] = total / _timed(_get, client, files, folder / "back")
        for copy in copies:
            copy.unlink()
    return found


def _cp(sources: list[Path], targets: list[Path]) -> None:
    for source, target in zip(sources, targets, strict=True):
        subprocess.run(["cp", str(source), str(target)], check=True)
        os.sync()


def _put(client: Minio, files: list[Path]) -> None:
    for path in files:
        client.fput_object(CEILING_BUCKET, path.name, str(path))


def _get(client: Minio, files: list[Path], target: Path) -> None:
    for path in files:
        client.fget_object(CEILING_BUCKET, path.name, str(target))


def _timed(action: Callable[..., object], *arguments: object) -> float:
    """Seconds ``action(*arguments)`` took."""
    started = time.perf_counter()
    action(*arguments)
    return time.perf_counter() - started


TOO_SLOW = "under half the ceiling, where the time goes while it is sent again and again"


def _through_gateway(
    portal: System, scan: Path, records: list[Path], floors: dict[str, float], profile_seconds: float
) -> tuple[dict[str, tuple[float, dict[str, float]]], list[tuple[str, dict[str, Profile]]]]:
    """By what was sent or read: bytes per second and the peak memory over rest (MB) of the gateway and the
    documents service, for the scan's and the records' upload and download; and for each that was slower than its
    ``floors`` entry (bytes per second), the profiles of both processes while it is done again for
    ``profile_seconds``."""
    token = asyncio.run(seed.doctor(portal.api))
    first, second = asyncio.run(seed.drafts(portal.api, token, 2))
    pids = {name: portal.pids[name] for name in ("gateway", "documents")}
    found = {}
    profiles = []
    with httpx.Client(base_url=portal.api, headers={"Authorization": f"Bearer {token}"}, timeout=300) as client:
        cases = (("scan", first, {SCAN_SLOT: scan}), ("case-01", second, dict(zip(CASE_01, records, strict=True))))
        for what, case, files in cases:
            total = sum(path.stat().st_size for path in files.values())
            upload = functools.partial(_upload_all, client, case["case_id"], files)
            with peak_memory(pids) as peaks, cpu_per_megabyte(pids, total) as cpu:
                taken = _timed(upload)
            found[f"{what} upload"] = (total / taken, {**peaks, **cpu})
            listed = client.get(f"/cases/{case['case_id']}/documents").json()["items"]
            download = functools.partial(_download_all, client, [document["id"] for document in listed])
            with peak_memory(pids) as peaks, cpu_per_megabyte(pids, total) as cpu:
                taken = _timed(download)
            found[f"{what} download"] = (total / taken, {**peaks, **cpu})
            for name, again in ((f"{what} upload", upload), (f"{what} download", download)):
                if found[name][0] < floors[name]:
                    profiles.append((name, _profiled(pids, again, profile_seconds)))
    return found, profiles


def _profiled(pids: dict[str, int], action: Callable[[], object], seconds: float) -> dict[str, Profile]:
    """The profiles of ``pids`` sampled for ``seconds`` while ``action`` is done over and over."""

    def again_and_again() -> None:
        ends = time.monotonic() + seconds + 0.5
        while time.monotonic() < ends:
            action()

    return during(pids, seconds, again_and_again)


def _upload_all(client: httpx.Client, case_id: str, files: dict[str, Path]) -> None:
    for slot, path in files.items():
        _upload(client, case_id, slot, path)


def _download_all(client: httpx.Client, document_ids: list[str]) -> None:
    for document_id in document_ids:
        _download(client, document_id)


def _upload(client: httpx.Client, case_id: str, slot: str, path: Path) -> None:
    with path.open("rb") as file:
        answer = client.post(f"/cases/{case_id}/documents", data={"slot": slot}, files={"file": (path.name, file)})
    answer.raise_for_status()


def _download(client: httpx.Client, document_id: str) -> None:
    with client.stream("GET", f"/documents/{document_id}/content", follow_redirects=True) as answer:
        answer.raise_for_status()
        for _ in answer.iter_raw(MB):
            pass


@contextmanager
def cpu_per_megabyte(pids: dict[str, int], size: int) -> Iterator[dict[str, float]]:
    """Within the block, the CPU milliseconds each process of ``pids`` used per MB of ``size`` bytes (filled in on
    leaving, keyed ``"<name> CPU ms/MB"``)."""
    before = cpu_seconds(pids)
    found: dict[str, float] = {}
    try:
        yield found
    finally:
        after = cpu_seconds(pids)
        found.update({f"{name} CPU ms/MB": (after[name] - before[name]) * 1000 / (size / MB) for name in pids})


@contextmanager
def peak_memory(pids: dict[str, int], every: float = 0.02) -> Iterator[dict[str, float]]:
    """Within the block, the peak resident memory of each process of ``pids`` above its memory on entering, in MB
    (filled in on leaving)."""
    processes = {name: psutil.Process(pid) for name, pid in pids.items()}
    rest = {name: process.memory_info().rss for name, process in processes.items()}
    peak = dict(rest)
    stop = threading.Event()

    def sample() -> None:
        while not stop.wait(every):
            for name, process in processes.items():
                peak[name] = max(peak[name], process.memory_info().rss)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    found: dict[str, float] = {}
    try:
        yield found
    finally:
        stop.set()
        sampler.join()
        found.update({name: (peak[name] - rest[name]) / MB for name in processes})
