"""Processes killed at the worst moments, and competing replicas: nothing lost, nothing applied twice.

The probe service runs in child processes (``tests.probe``) so a test can kill it like a crash.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from pathlib import Path

from shared.failpoints import FAILPOINT_EXIT_CODE
from shared.settings import PortalSettings
from tests.harness.events import Tap
from tests.harness.fixtures import doctor_headers, settings_env
from tests.harness.servers import ServiceProcess, wait_ready
from tests.messaging.helpers import (
    applied_rows,
    eventually,
    inbox_count,
    post_events,
    probe_settings,
    subject_versions,
    write_events_directly,
)

FACTORY = "tests.probe:create_app"
QUEUE = "orders.probe"


async def prepare(tmp_path: Path, vhost_url: str, database_url: str) -> dict[str, str]:
    settings = await probe_settings(tmp_path, vhost_url, database_url)
    return settings_env(settings)


async def test_relay_killed_between_broker_ack_and_marking_sent(
    tmp_path: Path, vhost_url: str, database_url: str
) -> None:
    env = await prepare(tmp_path, vhost_url, database_url)
    [event_id] = await write_events_directly(database_url, "s-relay", [1])
    async with Tap(vhost_url) as tap:
        crashing = ServiceProcess(FACTORY, {**env, "PORTAL_FAILPOINTS": "relay.after_confirm"}, tmp_path / "a.log")
        crashing.start()
        try:
            assert await asyncio.to_thread(crashing.wait_exit, 60) == FAILPOINT_EXIT_CODE
        finally:
            crashing.kill()

        async def confirmed_once() -> bool:
            return tap.message_ids == [event_id]

        await eventually(confirmed_once)  # the broker had the event before the relay died
        restarted = ServiceProcess(FACTORY, env, tmp_path / "b.log").start()
        try:
            await wait_ready(restarted.url)

            async def republished_and_applied() -> bool:
                rows = await applied_rows(database_url)
                return tap.message_ids == [event_id, event_id] and len(rows) == 1

            await eventually(republished_and_applied)
            await asyncio.sleep(1.0)
            assert [str(row["message_id"]) for row in await applied_rows(database_url)] == [event_id]
        finally:
            restarted.stop()


async def test_consumer_killed_in_the_middle_of_a_handler(tmp_path: Path, vhost_url: str, database_url: str) -> None:
    env = await prepare(tmp_path, vhost_url, database_url)
    markers = tmp_path / "markers"
    markers.mkdir()
    slow = ServiceProcess(
        FACTORY,
        {**env, "PROBE_SLEEP": "120", "PROBE_MARKER_DIR": str(markers), "PROBE_WORKER": "killed"},
        tmp_path / "a.log",
    ).start()
    try:
        await wait_ready(slow.url)
        [event_id] = await post_events(slow.url, doctor_headers_from(env), "s-kill", [1])

        async def handler_started() -> bool:
            return (markers / f"started-{event_id}").exists()

        await eventually(handler_started)
    finally:
        slow.kill()
    replacement = ServiceProcess(FACTORY, {**env, "PROBE_WORKER": "replacement"}, tmp_path / "b.log").start()
    try:
        await wait_ready(replacement.url)

        async def applied() -> bool:
            return len(await applied_rows(database_url)) == 1

        await eventually(applied)
        await asyncio.sleep(1.0)
        rows = await applied_rows(database_url)
        assert [(str(r["message_id"]), r["worker"]) for r in rows] == [(event_id, "replacement")]
    finally:
        replacement.stop()


async def test_two_replicas_apply_1000_events_over_50_subjects_once_each(
    tmp_path: Path, vhost_url: str, database_url: str
) -> None:
    env = await prepare(tmp_path, vhost_url, database_url)
    replicas = [
        ServiceProcess(FACTORY, {**env, "PROBE_WORKER": name}, tmp_path / f"{name}.log").start() for name in ("a", "b")
    ]
    try:
        for replica in replicas:
            await wait_ready(replica.url)
        headers = doctor_headers_from(env)
        written = await asyncio.gather(
            *(post_events(replicas[i % 2].url, headers, f"subject-{i:02d}", list(range(1, 21))) for i in range(50))
        )
        assert sum(len(ids) for ids in written) == 1000

        async def all_handled() -> bool:
            return await inbox_count(database_url, QUEUE) == 1000

        await eventually(all_handled, timeout=120, interval=0.5)
        rows = await applied_rows(database_url)
        assert max(Counter(str(row["message_id"]) for row in rows).values()) == 1
        assert await subject_versions(database_url) == {f"subject-{i:02d}": 20 for i in range(50)}
    finally:
        for replica in replicas:
            replica.stop()


def doctor_headers_from(env: dict[str, str]) -> dict[str, str]:
    """Internal-token headers valid for the child processes (same secret)."""
    return doctor_headers(PortalSettings(internal_token_secret=env["PORTAL_INTERNAL_TOKEN_SECRET"]))
