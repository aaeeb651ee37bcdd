"""Through the real broker, on SQLite and PostgreSQL: the gateway's and the cases service's events published on
``portal.events`` reach the service's queues; a setup published twice (a redelivery) makes one notification, one
``notification.created`` and one e-mail with its ``email.sent``, each caused by what came before."""

from __future__ import annotations

import asyncio
import time

from services.notifications.models import Doctor
from services.notifications.tests.conftest import CaseOf, Notifications, doctor_profile
from services.notifications.tests.test_events import setup_published
from tests.harness.events import Tap, publish


async def test_events_from_the_broker_make_one_notification_and_one_email(notifications: Notifications) -> None:
    case = CaseOf()
    async with Tap(notifications.vhost_url, "notification.created.#", "email.sent.#") as tap:
        await publish(notifications.vhost_url, doctor_profile(case.doctor_id))
        deadline = time.monotonic() + 10
        while not await notifications.rows(Doctor):
            assert time.monotonic() < deadline, "doctor.registered was not consumed"
            await asyncio.sleep(0.05)
        published = setup_published(case)
        await publish(notifications.vhost_url, published, published)
        [created] = await tap.wait("notification.created")
        [sent] = await tap.wait("email.sent")
        await asyncio.sleep(0.5)
    assert len(tap.of("notification.created")) == 1 and len(tap.of("email.sent")) == 1
    [row] = await notifications.notifications_of(case.doctor_id)
    assert created.subject == row.id and created.causation_id == str(published.id)
    assert created.payload["kind"] == "setup_published" and created.payload["doctor_id"] == case.doctor_id
    assert created.payload["title"] == "Treatment setup v2 awaits your approval"
    [delivery] = await notifications.deliveries_of(case.doctor_id)
    assert sent.subject == delivery.id and sent.causation_id == str(published.id)
    assert sent.payload["transport"] == "file" and sent.payload["notification_ids"] == [row.id]
    assert (notifications.settings.data_dir / "mail" / f"{delivery.id}.eml").is_file()
