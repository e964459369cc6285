"""The message topology, declared in one place and by every process at start.

One durable topic exchange carries every event; each consuming service has one durable queue
bound to the routing keys it needs (quorum queues on RabbitMQ); a dead-letter exchange and queue
take what a consumer cannot use, with the reason in the headers.

Ordering: events of one subject carry a contiguous sequence per producer. A queue that binds a
whole subject family (``case.#``) sees every sequence number of that family and is checked for
gaps (``ordered=True``); a queue that picks single types sees gaps by design and is not.
"""
from __future__ import annotations

from dataclasses import dataclass

from kombu import Exchange, Queue


@dataclass(frozen=True)
class QueueSpec:
    service: str
    bindings: tuple[str, ...]
    ordered: bool


QUEUES: tuple[QueueSpec, ...] = (
    # evidence.registered shares the subject finding:<id> with finding.recorded: the cases queue
    # sees every event of that subject (any new one on it must be bound here too, or it parks)
    QueueSpec("cases", ("finding.#", "sanction.#", "evidence.registered"), ordered=True),
    QueueSpec("notify", ("case.#", "sanction.#", "deadline.#", "complaint.#", "points.#", "standing.#"),
              ordered=True),
    QueueSpec("inspection", ("case.opened",), ordered=False),
)


class Topology:
    def __init__(self, prefix: str = "fundguard", rabbitmq: bool = False):
        self.prefix = prefix
        self.rabbitmq = rabbitmq
        self.exchange = Exchange(f"{prefix}.events", type="topic", durable=True)
        self.dead_letter_exchange = Exchange(f"{prefix}.dlx", type="topic", durable=True)
        self.dead_letter_queue = Queue(
            f"{prefix}.dead-letter", exchange=self.dead_letter_exchange, routing_key="#",
            durable=True, queue_arguments=self._queue_args(dead_letter=False))
        self.queues: dict[str, Queue] = {}
        for spec in QUEUES:
            name = f"{prefix}.{spec.service}.events"
            self.queues[spec.service] = Queue(
                name, exchange=self.exchange,
                bindings=None, routing_key=spec.bindings[0], durable=True,
                queue_arguments=self._queue_args(dead_letter=True))
        self.specs = {spec.service: spec for spec in QUEUES}

    def _queue_args(self, dead_letter: bool) -> dict | None:
        if not self.rabbitmq:
            return None  # the embedded transport ignores broker-side arguments
        args = {"x-queue-type": "quorum"}
        if dead_letter:
            args["x-dead-letter-exchange"] = self.dead_letter_exchange.name
        return args

    def queue_for(self, service: str) -> Queue:
        return self.queues[service]

    def declare(self, channel) -> None:
        """Declare exchanges, queues and every binding (idempotent)."""
        self.exchange(channel).declare()
        self.dead_letter_exchange(channel).declare()
        self.dead_letter_queue(channel).declare()
        for service, queue in self.queues.items():
            bound = queue(channel)
            bound.declare()
            for key in self.specs[service].bindings[1:]:
                bound.bind_to(exchange=self.exchange, routing_key=key)

    def all_names(self) -> tuple[list[str], list[str]]:
        """(exchanges, queues) — used to tear down a test run's prefix."""
        exchanges = [self.exchange.name, self.dead_letter_exchange.name]
        queues = [q.name for q in self.queues.values()] + [self.dead_letter_queue.name]
        return exchanges, queues
