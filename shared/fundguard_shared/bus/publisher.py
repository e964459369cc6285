"""Publishing a batch of events to the bus, confirmed.

* RabbitMQ (``amqp://``): publisher confirms, one wait per *batch* (confirming messages one by
  one caps a producer near 1,100 msg/s here, see design.md); a nack or a timeout fails the
  whole batch, which the outbox then sends again.
* Embedded (``fgsqlite://``): the transport's insert is durable when it returns.
"""
from __future__ import annotations

import logging
import uuid

import amqp
from kombu import Connection, Producer

from ..topology import Topology
from . import embedded  # noqa: F401  registers the fgsqlite:// transport with kombu

log = logging.getLogger(__name__)


# A dead letter carries the original bytes, which may not be JSON at all.
DEAD_LETTER_CONTENT_TYPE = "application/octet-stream"


class PublishFailed(Exception):
    pass


class BusPublisher:
    def __init__(self, broker_url: str, topology: Topology, confirm_timeout: float = 10.0,
                 heartbeat: int = 0):
        self.heartbeat = heartbeat
        self.broker_url = broker_url
        self.topology = topology
        self.confirm_timeout = confirm_timeout
        self.amqp = broker_url.startswith(("amqp://", "amqps://", "pyamqp://"))
        self._conn: Connection | None = None
        self._channel = None
        self._producer: Producer | None = None
        self._unconfirmed: set[int] = set()
        self._nacked = False
        self._next_tag = 0

    # -- connection management ----------------------------------------------------------------
    def _connect(self) -> None:
        if self._conn is not None:
            return
        conn = Connection(self.broker_url, connect_timeout=5, heartbeat=self.heartbeat)
        conn.ensure_connection(max_retries=1)
        channel = conn.channel()
        self.topology.declare(channel)
        self._conn, self._channel = conn, channel
        if self.amqp:
            raw = channel  # kombu's pyamqp channel is an amqp.Channel
            raw.events["basic_ack"].add(self._on_ack)
            raw.events["basic_nack"].add(self._on_nack)
            raw.confirm_select()
            self._unconfirmed, self._next_tag = set(), 0
        else:
            self._producer = Producer(channel, exchange=self.topology.exchange)

    def reset(self) -> None:
        conn, self._conn, self._channel, self._producer = self._conn, None, None, None
        if conn is not None:
            try:
                conn.release()
            except Exception as exc:  # already broken: nothing left to release
                log.debug("release after failure: %s", exc)

    def _on_ack(self, delivery_tag, multiple):
        if multiple:
            self._unconfirmed = {t for t in self._unconfirmed if t > delivery_tag}
        else:
            self._unconfirmed.discard(delivery_tag)

    def _on_nack(self, delivery_tag, multiple):
        self._nacked = True

    def _wait_confirms(self) -> None:
        while self._unconfirmed:
            if self._nacked:
                break
            self._conn.drain_events(timeout=self.confirm_timeout)
        if self._nacked:
            raise PublishFailed("broker nacked a message / 消息被代理拒绝")

    # -- publishing -----------------------------------------------------------------------------
    def publish_batch(self, events: list[tuple[str, str]]) -> None:
        """Publish (routing_key, json_body) pairs; return only when all are confirmed."""
        try:
            self._connect()
            self._conn.heartbeat_check()  # a dead connection fails here, not in a lost publish
            if self.amqp:
                self._publish_amqp(events)
            else:
                for routing_key, body in events:
                    self._producer.publish(
                        body.encode("utf-8"), routing_key=routing_key,
                        content_type="application/json", content_encoding="utf-8",
                        delivery_mode=2, message_id=str(uuid.uuid4()))
        except Exception as exc:
            self.reset()
            raise PublishFailed(str(exc)) from exc

    def _publish_amqp(self, events: list[tuple[str, str]]) -> None:
        channel = self._channel
        self._nacked = False
        for routing_key, body in events:
            msg = amqp.Message(body.encode("utf-8"), content_type="application/json",
                               content_encoding="utf-8", delivery_mode=2)
            channel.basic_publish(msg, exchange=self.topology.exchange.name,
                                  routing_key=routing_key)
            self._next_tag += 1
            self._unconfirmed.add(self._next_tag)
        self._wait_confirms()

    def keepalive(self) -> None:
        """Called while idle: sends a heartbeat when due; a dead connection is dropped."""
        if self._conn is None:
            return
        try:
            self._conn.heartbeat_check()
        except Exception as exc:
            log.info("publisher connection dropped while idle: %s", exc)
            self.reset()

    def publish_raw(self, exchange, routing_key: str, body: bytes, headers: dict) -> None:
        """Dead-letter one raw body, confirmed (rare path); the reason travels in ``headers``."""
        try:
            self._publish_raw(exchange, routing_key, body, headers)
        except Exception:
            self.reset()  # the connection may have died while idle: one fresh attempt
            self._publish_raw(exchange, routing_key, body, headers)

    def _publish_raw(self, exchange, routing_key: str, body: bytes, headers: dict) -> None:
        self._connect()
        if self.amqp:
            msg = amqp.Message(body, content_type=DEAD_LETTER_CONTENT_TYPE, delivery_mode=2,
                               application_headers=headers)
            self._channel.basic_publish(msg, exchange=exchange.name, routing_key=routing_key)
            self._next_tag += 1
            self._unconfirmed.add(self._next_tag)
            self._nacked = False
            self._wait_confirms()
        else:
            self._producer.publish(body, exchange=exchange, routing_key=routing_key,
                                   content_type=DEAD_LETTER_CONTENT_TYPE,
                                   content_encoding="binary", headers=headers, delivery_mode=2)

    def close(self) -> None:
        self.reset()
