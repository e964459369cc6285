"""Tests of the embedded kombu transport (``fgsqlite://``, fundguard_shared.bus.embedded).

Real SQLite files and real processes, no mocks. Each test is bounded by
explicit deadlines; none asserts on latency.
"""
from __future__ import annotations

import json
import os
import select
import signal
import sqlite3
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest

SHARED_DIR = Path(__file__).resolve().parents[1]
if str(SHARED_DIR) not in sys.path:
    sys.path.insert(0, str(SHARED_DIR))

import kombu  # noqa: E402
from kombu import Connection, Consumer, Exchange, Producer, Queue  # noqa: E402
from kombu.transport import TRANSPORT_ALIASES  # noqa: E402

from fundguard_shared.bus import embedded  # noqa: E402

TABLE = embedded.DEFAULT_MESSAGE_TABLE
EXCHANGE = Exchange('fgtest.events', type='topic', durable=True)


def findings_queue(name: str = 'fgtest.cases.events') -> Queue:
    return Queue(name, exchange=EXCHANGE, routing_key='finding.#', durable=True)


def bus_url(path: Path) -> str:
    return f'fgsqlite:///{path}'  # absolute path -> fgsqlite:////abs/...


def rows(db: Path, where: str = '1=1', params=()) -> int:
    con = sqlite3.connect(db, timeout=10)
    try:
        return con.execute(f'SELECT count(*) FROM {TABLE} WHERE {where}',
                           params).fetchone()[0]
    finally:
        con.close()


def wait_for(predicate, timeout: float, interval: float = 0.02, what: str = ''):
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f'timed out after {timeout}s waiting for {what}')
        time.sleep(interval)


# ----------------------------------------------------------------- subprocess

CONSUMER_SCRIPT = textwrap.dedent('''
    import json, os, sqlite3, sys, time
    cfg = json.loads(sys.argv[1])
    sys.path.insert(0, cfg["shared"])
    from fundguard_shared.bus import embedded
    from kombu import Connection, Consumer, Exchange, Queue

    exchange = Exchange("fgtest.events", type="topic", durable=True)
    queue = Queue(cfg["queue"], exchange=exchange, routing_key="finding.#", durable=True)

    rec = sqlite3.connect(cfg["record_db"], timeout=10, isolation_level=None)
    rec.execute("PRAGMA journal_mode=WAL")
    rec.execute("CREATE TABLE IF NOT EXISTS handled (seq INTEGER PRIMARY KEY AUTOINCREMENT,"
                " msg_id TEXT NOT NULL, pid INTEGER, redelivered INTEGER)")

    def emit(**kw):
        print(json.dumps(kw), flush=True)

    with Connection(cfg["url"], transport_options=cfg.get("transport_options", {})) as conn:
        channel = conn.channel()
        queue(channel).declare()            # every process declares the topology
        requeued = None
        if cfg.get("requeue_at_start"):
            requeued = embedded.requeue_inflight(conn, queue.name)
        emit(ready=True, pid=os.getpid(), requeued=requeued)
        delay = cfg.get("delay_before_ack", 0)

        def handle(body, message):
            if cfg.get("hang_after_receive"):
                emit(got=body["id"])
                time.sleep(3600)            # a stuck handler: never acks
            # record first (committed: autocommit connection), then ack
            rec.execute("INSERT INTO handled (msg_id, pid, redelivered) VALUES (?, ?, ?)",
                        (body["id"], os.getpid(),
                         int(bool(message.delivery_info.get("redelivered")))))
            if delay:
                time.sleep(delay)
            message.ack()

        with Consumer(channel, queues=[queue], callbacks=[handle], accept=["json"]):
            while not os.path.exists(cfg["stop_file"]):
                try:
                    conn.drain_events(timeout=0.1)
                except TimeoutError:
                    pass
    emit(stopped=True)
''')


class ConsumerProcess:
    def __init__(self, tmp_path: Path, name: str, url: str, queue: str, **cfg):
        self.record_db = tmp_path / f'records-{name}.db'
        self.stop_file = tmp_path / f'stop-{name}'
        script = tmp_path / 'consumer_proc.py'
        if not script.exists():
            script.write_text(CONSUMER_SCRIPT)
        cfg.update(shared=str(SHARED_DIR), url=url, queue=queue,
                   record_db=str(self.record_db), stop_file=str(self.stop_file))
        self.proc = subprocess.Popen(
            [sys.executable, str(script), json.dumps(cfg)],
            stdout=subprocess.PIPE, text=True, cwd=str(tmp_path))

    def read_event(self, timeout: float = 10.0) -> dict:
        ready, _, _ = select.select([self.proc.stdout], [], [], timeout)
        if not ready:
            raise AssertionError(f'no output from consumer {self.proc.pid} in {timeout}s')
        line = self.proc.stdout.readline()
        if not line:
            raise AssertionError(f'consumer exited early (rc={self.proc.poll()})')
        return json.loads(line)

    def wait_ready(self) -> dict:
        event = self.read_event(timeout=15)
        assert event.get('ready'), event
        return event

    def handled(self) -> list[str]:
        if not self.record_db.exists():
            return []
        con = sqlite3.connect(self.record_db, timeout=10)
        try:
            return [r[0] for r in con.execute('SELECT msg_id FROM handled ORDER BY seq')]
        except sqlite3.OperationalError:  # table not created yet
            return []
        finally:
            con.close()

    def stop(self, timeout: float = 10.0) -> int:
        self.stop_file.touch()
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise AssertionError('consumer did not stop on request')

    def kill(self) -> None:
        if self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait()


@pytest.fixture
def procs():
    started: list[ConsumerProcess] = []
    yield started
    for p in started:
        if p.proc.poll() is None:
            p.proc.kill()
            p.proc.wait()
        if p.proc.stdout:
            p.proc.stdout.close()


def publish_many(url: str, ids: list[str], interval: float = 0.0) -> None:
    """Publish one JSON message per id, optionally at a steady pace."""
    with Connection(url) as conn:
        channel = conn.channel()
        findings_queue()(channel).declare()
        producer = Producer(channel, exchange=EXCHANGE, serializer='json')
        next_at = time.monotonic()
        for msg_id in ids:
            producer.publish({'id': msg_id, 'text': '基金净值异常'},
                             routing_key='finding.nav.deviation',
                             headers={'event_id': msg_id})
            if interval:
                next_at += interval
                pause = next_at - time.monotonic()
                if pause > 0:
                    time.sleep(pause)


# ---------------------------------------------------------------------- tests

def test_register_and_url_mapping():
    embedded.register()
    embedded.register()  # idempotent
    assert TRANSPORT_ALIASES['fgsqlite'] == 'fundguard_shared.bus.embedded:Transport'
    assert embedded.sqlalchemy_url_from_url('fgsqlite:////abs/bus.db') == 'sqlite:////abs/bus.db'
    assert embedded.sqlalchemy_url_from_url('fgsqlite:///var/bus.db') == 'sqlite:///var/bus.db'
    assert embedded.sqlite_path_from_url('fgsqlite:///var/bus.db') == 'var/bus.db'
    for bad in ('fgsqlite://', 'fgsqlite:///', 'fgsqlite://host/x.db',
                'fgsqlite:///:memory:', 'sqlite:///x.db', 'fgsqlite:///x.db?a=1'):
        with pytest.raises(ValueError):
            embedded.sqlite_path_from_url(bad)


def test_sqlite_settings_and_transport_options(tmp_path):
    db = tmp_path / 'bus.db'
    opts = {'polling_interval': 0.05, 'visibility_timeout': 5, 'busy_timeout': 3}
    with Connection(bus_url(db), transport_options=opts) as conn:
        channel = conn.channel()
        findings_queue()(channel).declare()
        assert isinstance(conn.transport, embedded.Transport)
        assert conn.transport.polling_interval == 0.05
        assert channel.visibility_timeout == 5.0
        with channel._open().connect() as c:
            assert c.exec_driver_sql('PRAGMA journal_mode').scalar() == 'wal'
            assert c.exec_driver_sql('PRAGMA synchronous').scalar() == 1  # NORMAL
            assert c.exec_driver_sql('PRAGMA busy_timeout').scalar() == 3000
    with Connection(bus_url(db)) as conn:
        assert conn.transport.polling_interval == embedded.DEFAULT_POLLING_INTERVAL
        assert conn.default_channel.visibility_timeout == embedded.DEFAULT_VISIBILITY_TIMEOUT


def test_round_trip_topic_routing_headers_and_chinese(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    url = 'fgsqlite:///var/bus.db'          # relative path, like sqlite:///
    findings = findings_queue('fgtest.findings')
    alerts = Queue('fgtest.alerts', exchange=EXCHANGE, routing_key='alert.*', durable=True)
    body = {'fund': '华夏成长混合', 'note': '净值偏离 3.2%，请核查', 'n': 1}
    headers = {'event_id': 'e-1', 'tenant': '基金公司甲', 'attempt': 2}

    with Connection(url) as pconn:
        pchan = pconn.channel()
        for q in (findings, alerts):
            q(pchan).declare()
        producer = Producer(pchan, exchange=EXCHANGE, serializer='json')
        producer.publish(body, routing_key='finding.nav.deviation', headers=headers)
        producer.publish({'x': 1}, routing_key='alert.disk')
        producer.publish({'x': 2}, routing_key='nomatch.anything')   # routed nowhere
    assert (tmp_path / 'var' / 'bus.db').exists()
    assert rows(tmp_path / 'var' / 'bus.db') == 2

    got = []
    with Connection(url) as cconn:              # a separate connection: own topology
        cchan = cconn.channel()
        for q in (findings, alerts):
            q(cchan).declare()

        def on_message(payload, message):
            got.append((payload, message))
            message.ack()

        with Consumer(cchan, queues=[findings], callbacks=[on_message], accept=['json']):
            cconn.drain_events(timeout=5)
            with pytest.raises(TimeoutError):
                cconn.drain_events(timeout=0.2)
    assert len(got) == 1
    payload, message = got[0]
    assert payload == body
    assert message.headers == headers
    assert message.delivery_info['routing_key'] == 'finding.nav.deviation'
    assert message.delivery_info['redelivered'] is False
    assert message.content_type == 'application/json'
    # the alert stayed in its own queue
    assert rows(tmp_path / 'var' / 'bus.db', 'queue = ?', ('fgtest.alerts',)) == 1
    assert rows(tmp_path / 'var' / 'bus.db', 'queue = ?', ('fgtest.findings',)) == 0


def test_ack_deletes_the_row(tmp_path):
    db = tmp_path / 'bus.db'
    publish_many(bus_url(db), [f'm{i}' for i in range(5)])
    assert rows(db) == 5
    with Connection(bus_url(db)) as conn:
        q = findings_queue()(conn.channel())
        q.declare()
        msg = q.get()
        assert msg.payload['id'] == 'm0'                 # FIFO
        assert rows(db, 'inflight_since IS NOT NULL') == 1
        second = q.get()
        assert second.payload['id'] == 'm1'              # m0 is in flight, skipped
        msg.ack()
        assert rows(db) == 4
        assert rows(db, 'inflight_since IS NOT NULL') == 1
        second.ack()
        assert rows(db) == 3
        while (m := q.get()) is not None:
            m.ack()
    assert rows(db) == 0


def test_reject_requeue_redelivers_and_reject_drops(tmp_path):
    db = tmp_path / 'bus.db'
    publish_many(bus_url(db), ['a', 'b'])
    with Connection(bus_url(db)) as conn:
        q = findings_queue()(conn.channel())
        q.declare()
        first = q.get()
        assert first.payload['id'] == 'a'
        assert first.delivery_info['redelivered'] is False
        first.reject(requeue=True)
        assert rows(db, 'inflight_since IS NOT NULL') == 0
        again = q.get()
        assert again.payload['id'] == 'a'                # back at the head of the queue
        assert again.delivery_info['redelivered'] is True
        assert again.delivery_info['delivery_count'] == 2
        assert again.delivery_tag != first.delivery_tag
        again.requeue()                                  # same thing via requeue()
        third = q.get()
        assert third.payload['id'] == 'a'
        third.reject(requeue=False)                      # dropped: row deleted
        assert rows(db) == 1
        b = q.get()
        assert b.payload['id'] == 'b'
        # clean shutdown with an unacked message: kombu restores it -> visible
    assert rows(db, 'inflight_since IS NULL') == 1
    with Connection(bus_url(db)) as conn:
        q = findings_queue()(conn.channel())
        q.declare()
        b = q.get()
        assert b.payload['id'] == 'b' and b.delivery_info['redelivered'] is True
        b.ack()
    assert rows(db) == 0


def test_no_ack_consumer_deletes_on_fetch(tmp_path):
    db = tmp_path / 'bus.db'
    publish_many(bus_url(db), ['x'])
    with Connection(bus_url(db)) as conn:
        q = findings_queue()(conn.channel())
        q.declare()
        msg = q.get(no_ack=True)
        assert msg.payload['id'] == 'x'
        assert rows(db) == 0


def test_visibility_timeout_redelivers_from_stuck_consumer(tmp_path, procs):
    db = tmp_path / 'bus.db'
    url = bus_url(db)
    opts = {'visibility_timeout': 1.0}
    stuck = ConsumerProcess(tmp_path, 'stuck', url, 'fgtest.cases.events',
                            hang_after_receive=True, transport_options=opts)
    procs.append(stuck)
    stuck.wait_ready()
    publish_many(url, ['slow-1'])
    assert stuck.read_event(timeout=10) == {'got': 'slow-1'}
    assert rows(db, 'inflight_since IS NOT NULL') == 1

    with Connection(url, transport_options=opts) as conn:
        q = findings_queue()(conn.channel())
        q.declare()
        assert q.get() is None                 # claimed by the stuck process
        msg = wait_for(q.get, timeout=10, interval=0.05,
                       what='message to become visible after the visibility timeout')
        assert msg.payload['id'] == 'slow-1'
        assert msg.delivery_info['redelivered'] is True
        assert msg.delivery_info['delivery_count'] == 2
        msg.ack()
    assert rows(db) == 0
    stuck.kill()


def test_sigkill_consumer_loses_nothing(tmp_path, procs, capsys):
    db = tmp_path / 'bus.db'
    url = bus_url(db)
    qname = 'fgtest.cases.events'
    ids = [f'msg-{i:04d}' for i in range(300)]

    first = ConsumerProcess(tmp_path, 'first', url, qname, delay_before_ack=0.01)
    procs.append(first)
    first.wait_ready()

    producer = threading.Thread(target=publish_many, args=(url, ids, 0.005))
    producer.start()
    try:
        wait_for(lambda: len(first.handled()) >= 60, timeout=20,
                 what='first consumer to handle 60 messages')
        first.kill()                                     # kill -9, mid-stream
        assert first.proc.returncode == -signal.SIGKILL
        inflight_at_kill = rows(db, 'inflight_since IS NOT NULL')

        second = ConsumerProcess(tmp_path, 'second', url, qname, requeue_at_start=True)
        procs.append(second)
        requeued = second.wait_ready()['requeued']
        # everything the killed worker held is back at once (no 30 s timeout wait)
        assert requeued == inflight_at_kill
    finally:
        producer.join(timeout=20)
    assert not producer.is_alive()

    def all_handled():
        return set(first.handled()) | set(second.handled()) == set(ids) and rows(db) == 0

    wait_for(all_handled, timeout=20, what='every message handled and acked')
    assert second.stop() == 0

    handled_first, handled_second = first.handled(), second.handled()
    records = handled_first + handled_second
    redelivered = len(records) - len(set(records))
    assert set(records) == set(ids)                      # no loss
    assert len(handled_first) == len(set(handled_first))
    assert len(handled_second) == len(set(handled_second))
    assert redelivered <= requeued                      # only in-flight ones repeat
    assert rows(db) == 0                                 # acked rows are deleted
    with capsys.disabled():
        print(f'\n[sigkill] first handled {len(handled_first)}, killed with '
              f'{inflight_at_kill} in flight, requeued at start {requeued}, '
              f'second handled {len(handled_second)}, '
              f'handled twice (redelivered after record, before ack): {redelivered}')


def test_two_concurrent_consumers_share_a_queue(tmp_path, procs, capsys):
    db = tmp_path / 'bus.db'
    url = bus_url(db)
    qname = 'fgtest.cases.events'
    ids = [f'c-{i:04d}' for i in range(300)]
    consumers = [ConsumerProcess(tmp_path, name, url, qname, delay_before_ack=0.002)
                 for name in ('a', 'b')]
    procs.extend(consumers)
    for c in consumers:
        c.wait_ready()
    publish_many(url, ids)

    wait_for(lambda: sum(len(c.handled()) for c in consumers) >= len(ids) and rows(db) == 0,
             timeout=20, what='all messages handled')
    for c in consumers:
        assert c.stop() == 0
    per_consumer = [c.handled() for c in consumers]
    records = [m for handled in per_consumer for m in handled]
    assert sorted(records) == sorted(ids)                # each exactly once
    assert rows(db) == 0
    with capsys.disabled():
        print(f'\n[two consumers] split: {[len(h) for h in per_consumer]}')


def test_requeue_inflight_helper_and_purge(tmp_path):
    db = tmp_path / 'bus.db'
    url = bus_url(db)
    publish_many(url, ['p1', 'p2', 'p3'])
    with Connection(url) as conn:
        q = findings_queue()(conn.channel())
        q.declare()
        held = q.get()
        assert held is not None
        # own claims are kept unless asked for
        assert embedded.requeue_inflight(conn, q) == 0
        assert conn.default_channel.inflight_count(q.name) == 1
        assert embedded.requeue_inflight(conn, q.name, include_own=True) == 1
        assert rows(db, 'inflight_since IS NOT NULL') == 0
        assert q.queue_declare().message_count == 3
        # after a requeue the stale claim's ack still removes the handled row
        held.ack()
        assert rows(db) == 2
        assert q.purge() == 2
    assert rows(db) == 0
    with pytest.raises(TypeError):
        embedded.requeue_inflight(object(), 'q')


def test_kombu_connection_resolves_scheme():
    conn = kombu.Connection('fgsqlite:////tmp/never-opened-bus.db')
    assert conn.transport_cls == 'fgsqlite'
    assert isinstance(conn.transport, embedded.Transport)
    assert conn.as_uri() == 'fgsqlite:////tmp/never-opened-bus.db'
