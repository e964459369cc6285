"""End-to-end latency of the embedded bus (``fgsqlite://``): producer process -> consumer process.

    .venv/bin/python bench/bench_embedded_bus.py [--count 1000] [--rate 100] [--db PATH]
                                                 [--polling-interval 0.01]

The producer (this process) publishes ``--count`` JSON messages at ``--rate`` msg/s through a
topic exchange. A separate consumer process receives them with manual ack. The latency of a
message is the consumer's receive time minus the publish time in the body. Both processes use
``time.time()`` on the same host. Prints figures only.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / 'shared'))

from kombu import Connection, Consumer, Exchange, Producer, Queue  # noqa: E402

from fundguard_shared.bus import embedded  # noqa: E402,F401  (registers fgsqlite://)

EXCHANGE = Exchange('bench.events', type='topic', durable=True)
QUEUE = Queue('bench.cases.events', exchange=EXCHANGE, routing_key='finding.#', durable=True)


def run_consumer(url: str, count: int, options: dict) -> None:
    latencies: list[float] = []
    with Connection(url, transport_options=options) as conn:
        channel = conn.channel()
        QUEUE(channel).declare()
        embedded.requeue_inflight(conn, QUEUE.name)

        def handle(body, message):
            latencies.append(time.time() - body['sent_at'])
            message.ack()

        print('READY', flush=True)
        deadline = time.monotonic() + count / 10 + 60
        with Consumer(channel, queues=[QUEUE], callbacks=[handle], accept=['json']):
            while len(latencies) < count and time.monotonic() < deadline:
                try:
                    conn.drain_events(timeout=1)
                except TimeoutError:
                    pass
    print(json.dumps(latencies), flush=True)


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    k = min(len(ordered) - 1, max(0, round(p / 100 * (len(ordered) - 1))))
    return ordered[k]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('--count', type=int, default=1000)
    ap.add_argument('--rate', type=float, default=100.0, help='messages per second')
    ap.add_argument('--db', help='bus file (default: a fresh temporary file)')
    ap.add_argument('--polling-interval', type=float, default=None,
                    help='transport option polling_interval (default: the transport default)')
    ap.add_argument('--role', default='producer', help=argparse.SUPPRESS)
    ap.add_argument('--url', help=argparse.SUPPRESS)
    args = ap.parse_args()

    options = {}
    if args.polling_interval is not None:
        options['polling_interval'] = args.polling_interval

    if args.role == 'consumer':
        run_consumer(args.url, args.count, options)
        return

    tmp = None
    if args.db:
        db = Path(args.db).resolve()
    else:
        tmp = tempfile.TemporaryDirectory(prefix='fgbus-bench-')
        db = Path(tmp.name) / 'bus.db'
    url = f'fgsqlite:///{db}'

    cmd = [sys.executable, os.path.abspath(__file__), '--role', 'consumer', '--url', url,
           '--count', str(args.count)]
    if args.polling_interval is not None:
        cmd += ['--polling-interval', str(args.polling_interval)]
    consumer = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True)
    try:
        if consumer.stdout.readline().strip() != 'READY':
            raise SystemExit('consumer failed to start')
        with Connection(url, transport_options=options) as conn:
            channel = conn.channel()
            QUEUE(channel).declare()
            producer = Producer(channel, exchange=EXCHANGE, serializer='json')
            interval = 1.0 / args.rate
            publish_times = []
            started = time.monotonic()
            next_at = started
            for seq in range(args.count):
                t0 = time.perf_counter()
                producer.publish({'seq': seq, 'sent_at': time.time(), 'note': '基准测试'},
                                 routing_key='finding.bench', headers={'seq': seq})
                publish_times.append(time.perf_counter() - t0)
                next_at += interval
                pause = next_at - time.monotonic()
                if pause > 0:
                    time.sleep(pause)
            elapsed = time.monotonic() - started
        out, _ = consumer.communicate(timeout=120)
    finally:
        if consumer.poll() is None:
            consumer.kill()
            consumer.wait()
    latencies = json.loads(out.strip().splitlines()[-1])
    ms = [x * 1000 for x in latencies]
    pub_ms = [x * 1000 for x in publish_times]
    print(f'embedded bus (fgsqlite, WAL) {db}')
    print(f'published {args.count} msgs in {elapsed:.2f}s ({args.count / elapsed:.1f} msg/s), '
          f'received {len(ms)}')
    print(f'polling interval: {options.get("polling_interval", embedded.DEFAULT_POLLING_INTERVAL)} s')
    if ms:
        print(f'end-to-end latency ms: p50 {pct(ms, 50):.2f}  p90 {pct(ms, 90):.2f}  '
              f'p99 {pct(ms, 99):.2f}  max {max(ms):.2f}  mean {statistics.fmean(ms):.2f}')
    print(f'publish call ms:        p50 {pct(pub_ms, 50):.2f}  p99 {pct(pub_ms, 99):.2f}')
    if tmp is not None:
        tmp.cleanup()


if __name__ == '__main__':
    main()
