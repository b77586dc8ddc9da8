"""A slow or dead webhook receiver does not slow notification sends.

The deliverer has threads, an HTTP pool and Redis connections of its own, and takes no
part of the send budget: the same pre-enqueued jobs go out about as fast with a receiver
that never answers in time (every try holds a webhook thread to its deadline) or that
refuses connections as with webhooks off. The bound is generous (half the rate): the
machine is shared; `benchmarks/webhooks.py` measures the figures precisely.
"""

from __future__ import annotations

import base64

import pytest

from notify_relay.processes import free_port
from tests.integration.helpers import example
from tests.webhook_receiver import Receiver

pytestmark = pytest.mark.integration

SECRET = "whsec_" + base64.b64encode(b"notify-relay webhook test key!!!").decode()
JOBS = 400


def sends_per_s(start_worker, config, producer, emulator_client) -> float:
    """Pre-enqueue JOBS, start a worker, rate from the first arrival to the last."""
    emulator_client.clear()
    producer.enqueue_many([example() for _ in range(JOBS)])
    worker = start_worker(settings_override=config)
    records = emulator_client.wait_for_requests(JOBS, timeout=120)
    worker.stop()
    times = sorted(r["time"] for r in records[:JOBS])
    return (JOBS - 1) / (times[-1] - times[0])


def test_a_slow_or_dead_receiver_does_not_slow_notification_sends(
        settings, start_worker, producer, emulator_client):
    config = settings.replace(rate_limit="100000/s")
    # The ladder's first wait as in production (5 s): a receiver that refuses connections
    # gets each event's first try at once, the next ones after the measurement.
    hooked = config.replace(webhook_secret=SECRET, webhook_timeout_s=2.0,
                            webhook_retry_delays="5,5")
    baseline = sends_per_s(start_worker, config, producer, emulator_client)
    with Receiver(delay_s=30) as slow:
        with_slow = sends_per_s(start_worker, hooked.replace(webhook_url=slow.url), producer,
                                emulator_client)
        assert slow.received  # the deliverer was busy with it meanwhile
    dead_url = f"http://127.0.0.1:{free_port()}/hooks"
    with_dead = sends_per_s(start_worker, hooked.replace(webhook_url=dead_url), producer,
                            emulator_client)
    print(f"sends/s: webhooks off {baseline:.0f}, slow receiver {with_slow:.0f}, "
          f"dead receiver {with_dead:.0f}")
    assert with_slow >= 0.5 * baseline and with_dead >= 0.5 * baseline
