"""Fan-out at scale with real workers: 20,000 users, two clusters, one killed hard midway and
replaced. Every user gets exactly one successful delivery and the receiver gets every one;
the only requests it can see twice are the few that were in flight in the killed process,
and they carry the same delivery id (and Idempotency-Key) so a receiver can drop them."""

import time

import pytest

from channels_webhook import sending
from flarelane.audience.models import EndUser
from history.models import Delivery, DeliveryAttempt
from tests.qcluster import kill_cluster_hard, running_qcluster
from tests.receivers import CountingReceiver

USERS = 20_000
BODY = '{"delivery": "{{ delivery.id }}", "to": "{{ tags.phone_number }}"}'


@pytest.mark.django_db(transaction=True)
def test_twenty_thousand_users_survive_a_killed_worker(make_webhook, project, tmp_path, settings):
    # The sweeper (scheduled each minute in a cluster) runs here every two seconds, and
    # takes a queued delivery whose task has not started within 30 s to be lost.
    settings.DELIVERY_STRANDED_SECONDS = 30
    EndUser.objects.bulk_create(
        (EndUser(project=project, user_id=f"u{n}", tags={"phone_number": f"010{n:08d}"}) for n in range(USERS)), batch_size=2000
    )
    short_lease = {"DELIVERY_LEASE_SECONDS": "10"}

    with CountingReceiver() as receiver:
        webhook = make_webhook(receiver.url("/fan-out"), body=BODY, headers=[], send_idempotency_key=True)
        with running_qcluster(tmp_path / "first.log", workers=1, extra_env=short_lease) as first:
            with running_qcluster(tmp_path / "second.log", workers=1, extra_env=short_lease, purge=False):
                batch = sending.send_to_audience(webhook=webhook, audience={"all": True}, data={}, source="api")
                deadline = time.monotonic() + 300
                while receiver.total < USERS // 4 and time.monotonic() < deadline:
                    time.sleep(0.2)
                in_flight_at_kill = Delivery.objects.filter(batch=batch, status=Delivery.Status.SENDING).count()
                kill_cluster_hard(first)
                with running_qcluster(tmp_path / "replacement.log", workers=1, extra_env=short_lease, purge=False):
                    # What the killed process held comes back when its lease runs out, and tasks it
                    # had pulled from the queue come back as stranded deliveries: both by the sweeper.
                    while Delivery.objects.filter(batch=batch, status__in=Delivery.FINAL_STATUSES).count() < USERS:
                        assert time.monotonic() < deadline, "the fan-out did not finish in five minutes"
                        sending.sweep()
                        time.sleep(2)
        received = receiver.received

    assert Delivery.objects.filter(batch=batch).count() == USERS
    assert Delivery.objects.filter(batch=batch, status=Delivery.Status.SUCCESS).count() == USERS
    assert DeliveryAttempt.objects.filter(delivery__batch=batch).count() == USERS  # one recorded attempt each
    ids = {str(pk) for pk in Delivery.objects.filter(batch=batch).values_list("pk", flat=True)}
    assert set(received) == ids  # none lost
    twice = [delivery_id for delivery_id, count in received.items() if count > 1]
    assert all(received[delivery_id] == 2 for delivery_id in twice)
    assert len(twice) <= max(in_flight_at_kill, 2 * 16)  # only what the killed worker had in flight
