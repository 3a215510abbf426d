"""How many requests a worker keeps in flight: in parallel for a slow receiver, one after
another for a receiver that answers at once, and groups that fit the queue's task timeout."""

import math

import pytest

from channels_webhook import sending
from flarelane.audience.services import end_user_put
from history.models import Delivery
from tests.receivers import CountingReceiver

pytestmark = pytest.mark.django_db

BODY = '{"delivery": "{{ delivery.id }}"}'


def _queued(make_webhook, project, receiver: CountingReceiver, count: int) -> tuple[int, list[str]]:
    webhook = make_webhook(receiver.url("/hook"), body=BODY)
    user_ids = [f"u{n}" for n in range(count)]
    for user_id in user_ids:
        end_user_put(project=project, user_id=user_id, attributes={}, tags={})
    return webhook.pk, sending.send_to_users(webhook=webhook, user_ids=user_ids, data={}, source="api").delivery_ids


def test_a_slow_receiver_gets_requests_in_parallel_after_three_measured_alone(make_webhook, project, settings):
    settings.WEBHOOK_SEND_CONCURRENCY = 20  # groups of 40 with the default task timeout
    with CountingReceiver(delay_seconds=0.2) as receiver:
        webhook_id, ids = _queued(make_webhook, project, receiver, 40)
        assert sending.deliver_many(delivery_ids=ids) == 40

    assert receiver.total == 40 and set(receiver.received.values()) == {1}
    assert Delivery.objects.filter(status="success").count() == 40
    # Three requests alone measure the receiver; the other 37 go out 20 at a time.
    assert receiver.most_in_flight == 20
    assert sending._receiver_speeds[webhook_id].fast is False


def test_a_receiver_that_answers_at_once_gets_one_request_after_another(make_webhook, project, settings):
    settings.WEBHOOK_SEND_CONCURRENCY = 20
    with CountingReceiver() as receiver:
        webhook_id, ids = _queued(make_webhook, project, receiver, 40)
        assert sending.deliver_many(delivery_ids=ids) == 40

    assert receiver.total == 40
    assert Delivery.objects.filter(status="success").count() == 40
    assert receiver.most_in_flight == 1
    assert sending._receiver_speeds[webhook_id].fast is True


def test_a_slow_receiver_is_measured_again_after_a_while(make_webhook, project, settings, monkeypatch):
    settings.WEBHOOK_SEND_CONCURRENCY = 20
    with CountingReceiver(delay_seconds=0.05) as receiver:
        webhook_id, ids = _queued(make_webhook, project, receiver, 6)
        sending.deliver_many(delivery_ids=ids[:3])
        assert sending._sent_alone(webhook_id) is False  # measured slow: parallel from now on
        sending._receiver_speeds[webhook_id].measured_at -= sending.PROBE_AGAIN_SECONDS + 1
        assert sending._sent_alone(webhook_id) is True  # stale: measure again
        assert sending._receiver_speeds[webhook_id].measuring is True


def test_one_stall_of_a_fast_receiver_is_outvoted_but_a_hang_switches_at_once():
    speed = sending._ReceiverSpeed()
    speed.wall_to_cpu.extend([1.2, 1.1, 40.0])  # the third waited on a busy machine
    assert speed.fast is True
    speed.wall_to_cpu.extend([45.0, 50.0])  # three slow answers of the last five
    assert speed.fast is False
    speed.wall_to_cpu.extend([1.0] * 5)
    assert speed.fast is True
    speed.wall_to_cpu.extend([math.inf] * sending.RECENT_REQUESTS)  # what an answer after a second adds
    assert speed.fast is False


def test_a_receiver_measured_twice_is_still_being_measured():
    speed = sending._ReceiverSpeed()
    speed.wall_to_cpu.extend([1.0, 1.0])
    assert (speed.measuring, speed.fast) == (True, False)


@pytest.mark.parametrize(
    ("concurrency", "task_timeout", "group"),
    [
        (50, 120, 100),  # 110 s fit three hangs of 30 s: one alone, then two rounds of 50
        (16, 120, 32),
        (1, 120, 2),
        (50, 40, 1),  # not even two rounds fit: one at a time
        (100, 600, 100),  # never more than a task's hundred
    ],
)
def test_a_group_ends_before_the_task_timeout_even_if_every_receiver_hangs(settings, concurrency, task_timeout, group):
    settings.WEBHOOK_SEND_CONCURRENCY = concurrency
    settings.Q_TASK_TIMEOUT_SECONDS = task_timeout
    assert sending._group_size() == group
