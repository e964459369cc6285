"""The worker process every service runs: its queue's consumer plus its outbox relay.

The consumer runs in the main thread, the relay in a second thread with its own broker
connection; ``extra_loops`` (e.g. the deadline scheduler) get a thread each. SIGTERM/SIGINT stop
everything cleanly; a SIGKILL loses nothing (outbox rows stay unsent; unacked messages return).
"""
from __future__ import annotations

import faulthandler
import logging
import signal
import threading
import time
from typing import Callable

from kombu import Connection, Consumer

from .bus import embedded
from .bus.publisher import BusPublisher
from .config import Settings
from .consumer import EventConsumer, Handler, dead_letter_headers
from .logs import setup_logging
from .outbox import MessagingTables, OutboxRelay
from .topology import Topology

log = logging.getLogger(__name__)


def is_amqp(url: str) -> bool:
    return url.startswith(("amqp://", "amqps://", "pyamqp://"))


def topology_for(settings: Settings) -> Topology:
    return Topology(settings.bus_prefix, rabbitmq=is_amqp(settings.broker_url))


def broker_check(settings: Settings) -> Callable[[], None]:
    def check() -> None:
        with Connection(settings.broker_url, connect_timeout=2) as conn:
            conn.ensure_connection(max_retries=1)
    return check


def make_consumer(settings: Settings, sessions, tables: MessagingTables,
                  handlers: dict[str, Handler], dlq_publisher: BusPublisher) -> EventConsumer:
    topology = dlq_publisher.topology

    def dead_letter(body: bytes, code: str, error: str, event_id: str | None) -> None:
        dlq_publisher.publish_raw(topology.dead_letter_exchange, f"{settings.service}.{code}",
                                  body, dead_letter_headers(settings.service, code, error,
                                                            event_id))

    return EventConsumer(settings.service, sessions, tables, handlers,
                         ordered=topology.specs[settings.service].ordered,
                         dead_letter=dead_letter, max_attempts=settings.consumer_max_attempts)


class ConsumerStalled(Exception):
    pass


class StallWatchdog:
    """While the consumer receives nothing, look at its queue every ``interval`` seconds: if
    messages stay ready for two looks in a row, the subscription is dead although the
    connection looks alive — raise, and the worker re-subscribes on a fresh connection."""

    def __init__(self, channel, queue_name: str, interval: float = 5.0):
        self.channel = channel
        self.queue_name = queue_name
        self.interval = interval
        self.last_activity = time.monotonic()
        self.strikes = 0

    def delivered(self) -> None:
        self.last_activity = time.monotonic()
        self.strikes = 0

    def check(self) -> None:
        now = time.monotonic()
        if now - self.last_activity < self.interval:
            return
        self.last_activity = now
        ok = self.channel.queue_declare(queue=self.queue_name, passive=True)
        ready = ok.message_count if hasattr(ok, "message_count") else ok[1]
        self.strikes = self.strikes + 1 if ready else 0
        if self.strikes >= 2:
            log.warning("queue %s has %s ready message(s) but none was delivered for %.0fs: "
                        "re-subscribing", self.queue_name, ready, 2 * self.interval)
            raise ConsumerStalled(self.queue_name)


def run_worker(settings: Settings, engine, sessions, tables: MessagingTables,
               handlers: dict[str, Handler],
               extra_loops: tuple[Callable[[threading.Event], None], ...] = (),
               stop: threading.Event | None = None) -> None:
    setup_logging(f"{settings.service}-worker", settings.log_level)
    stop = stop or threading.Event()
    if threading.current_thread() is threading.main_thread():
        # operators (and the test harness on a failure) get every thread's stack with SIGUSR1
        faulthandler.register(signal.SIGUSR1, all_threads=True)
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, lambda *_: stop.set())
    topology = topology_for(settings)
    relay = OutboxRelay(engine, tables, BusPublisher(settings.broker_url, topology,
                                                     heartbeat=settings.broker_heartbeat),
                        batch=settings.relay_batch, service=settings.service)
    threads = [threading.Thread(target=relay.run_forever, args=(stop,), name="outbox-relay",
                                daemon=True)]
    threads += [threading.Thread(target=loop, args=(stop,), name=loop.__name__, daemon=True)
                for loop in extra_loops]
    for t in threads:
        t.start()
    consumer = make_consumer(settings, sessions, tables, handlers,
                             BusPublisher(settings.broker_url, topology,
                                          heartbeat=settings.broker_heartbeat))
    queue = topology.queue_for(settings.service)
    log.info("worker started: queue %s, broker %s", queue.name,
             settings.broker_url.split("@")[-1])
    backoff = 0.2
    first = True
    while not stop.is_set():
        try:
            with Connection(settings.broker_url, connect_timeout=5,
                            heartbeat=settings.broker_heartbeat) as conn:
                conn.ensure_connection(max_retries=1)
                channel = conn.channel()
                topology.declare(channel)
                if first and not is_amqp(settings.broker_url):
                    # this worker is the queue's one embedded consumer: whatever a killed
                    # predecessor had in flight is put back now
                    embedded.requeue_inflight(conn, queue.name)
                first = False

                watchdog = StallWatchdog(channel, queue.name)

                def on_message(message):
                    consumer.process(message.body)
                    message.ack()
                    watchdog.delivered()

                with Consumer(channel, queues=[queue], on_message=on_message,
                              prefetch_count=50, accept=None):
                    backoff = 0.2
                    while not stop.is_set():
                        try:
                            conn.drain_events(timeout=0.5)
                        except TimeoutError:
                            pass
                        # a half-open TCP connection (peer gone without a FIN) shows up as
                        # missed heartbeats: this raises, and the loop reconnects
                        conn.heartbeat_check()
                        watchdog.check()
        except Exception as exc:
            if stop.is_set():
                break
            log.warning("consumer connection lost (%s); reconnecting in %.1fs", exc, backoff)
            stop.wait(backoff)
            backoff = min(5.0, backoff * 2)
    for t in threads:
        t.join(timeout=5)
    log.info("worker stopped")
