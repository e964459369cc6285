"""Embedded (server-less) kombu transport backed by one SQLite file.

URL scheme ``fgsqlite``::

    kombu.Connection("fgsqlite:////abs/path/bus.db")   # absolute path
    kombu.Connection("fgsqlite:///var/bus.db")         # relative to the CWD

Importing this module registers the scheme with kombu (see :func:`register`).
The transport is a subclass of kombu's ``sqla`` transport
(:mod:`kombu.transport.sqlalchemy`) with its own storage layer, because the
stock one is not crash safe: it flags a fetched row invisible, never deletes
it, and only makes unacked rows visible again on a clean shutdown. After a
``kill -9``, those messages are lost.

Storage
=======
A single table (default ``fgbus_message``) in the SQLite file, in WAL mode,
``synchronous=NORMAL``, ``busy_timeout`` = 10 s, so producer processes (web)
and consumer processes (workers) on the same host can share the file::

    id             INTEGER PRIMARY KEY AUTOINCREMENT  -- ids are never reused
    queue          TEXT     queue name
    payload        TEXT     kombu's message dict as JSON (utf-8)
    published_at   REAL     unix time of the insert
    inflight_since REAL     NULL = visible, else unix time of the claim
    claim          TEXT     random token of the current claim
    consumer       TEXT     "<host>:<pid>:<nonce>" of the claiming process
    delivery_count INTEGER  how many times the row has been handed out

In-flight tracking (at-least-once)
==================================
* **fetch** — one write transaction (``BEGIN IMMEDIATE``) runs
  ``UPDATE ... SET inflight_since=now, claim=<new token>, consumer=<me>,
  delivery_count=delivery_count+1 WHERE id = (first visible row of the
  queue) RETURNING ...``. SQLite admits only one writer at a time, so two
  processes can never claim the same row. Before taking the write lock, a
  plain read checks whether anything is visible, so idle consumers polling
  every 10 ms never block producers. A row is *visible* when
  ``inflight_since IS NULL`` or the claim is older than
  ``visibility_timeout``.
* The kombu delivery tag is ``"<row id>.<claim token>"``.
* **ack** (``message.ack()``) — ``DELETE`` of the row, so the table only
  holds pending and in-flight messages.
* **reject(requeue=True)** / ``message.requeue()`` / clean channel close
  (kombu restores unacked messages) — the row becomes visible again
  (``inflight_since = NULL``), but only if it still carries *our* claim
  token. The row keeps its id, so it goes back to the head of the queue.
  **reject(requeue=False)** deletes the row.
* **visibility timeout** (transport option ``visibility_timeout``, default
  30 s) — a claim older than this is treated as visible by the next fetch.
  This recovers messages held by a consumer that died or hangs. A handler
  that runs longer than the timeout can get its message delivered twice.
* **requeue at start** — :func:`requeue_inflight` (or
  ``channel.requeue_inflight(queue)``) makes every in-flight row of a queue
  visible immediately. The queue's single embedded worker calls it at start,
  because whatever is still in flight belongs to its killed predecessor.
* ``no_ack=True`` consumers and ``basic_get(no_ack=True)`` delete the row in
  the fetch transaction (at-most-once, as requested).

Transport options
=================
``polling_interval`` (float s, default 0.01), ``visibility_timeout`` (float
s, default 30), ``busy_timeout`` (float s, default 10),
``message_tablename`` (default ``fgbus_message``), plus kombu's virtual
options ``body_encoding`` / ``deadletter_queue``. No option goes to
``create_engine()``.

Exchange bindings live in each process's memory, like every kombu virtual
transport. Every process must declare the topology it publishes to or
consumes from. Fanout exchanges are not supported; direct and topic are.
"""
from __future__ import annotations

import json
import os
import re
import socket
import sqlite3
import threading
import time
import uuid
from contextlib import contextmanager
from queue import Empty
from typing import Any, Iterator

from kombu.transport import TRANSPORT_ALIASES
from kombu.transport import sqlalchemy as _kombu_sqla
from kombu.utils.encoding import bytes_to_str
from sqlalchemy import create_engine, event
from sqlalchemy.engine import URL, Connection, Engine
from sqlalchemy.exc import OperationalError

__all__ = [
    'SCHEME',
    'TRANSPORT_PATH',
    'DEFAULT_POLLING_INTERVAL',
    'DEFAULT_VISIBILITY_TIMEOUT',
    'DEFAULT_BUSY_TIMEOUT',
    'DEFAULT_MESSAGE_TABLE',
    'Channel',
    'Transport',
    'register',
    'requeue_inflight',
    'sqlite_path_from_url',
    'sqlalchemy_url_from_url',
]

SCHEME = 'fgsqlite'
TRANSPORT_PATH = 'fundguard_shared.bus.embedded:Transport'

DEFAULT_POLLING_INTERVAL = 0.01
DEFAULT_VISIBILITY_TIMEOUT = 30.0
DEFAULT_BUSY_TIMEOUT = 10.0
DEFAULT_MESSAGE_TABLE = 'fgbus_message'

_IDENTIFIER = re.compile(r'^[A-Za-z_][A-Za-z0-9_]{0,62}$')


def register() -> None:
    """Register the ``fgsqlite`` URL scheme with kombu (idempotent)."""
    TRANSPORT_ALIASES[SCHEME] = TRANSPORT_PATH


# ---------------------------------------------------------------- URL mapping

def sqlite_path_from_url(url: str) -> str:
    """Map ``fgsqlite:///rel.db`` / ``fgsqlite:////abs.db`` to a file path.

    Same rules as SQLAlchemy's ``sqlite:///`` URLs: three slashes give a
    path relative to the current directory, four an absolute path.
    """
    prefix = SCHEME + '://'
    if not url.startswith(prefix):
        raise ValueError(f'not an {SCHEME}:// URL: {url!r}')
    rest = url[len(prefix):]
    if not rest.startswith('/'):
        raise ValueError(
            f'{SCHEME} URLs take no host: use {SCHEME}:///relative/bus.db '
            f'or {SCHEME}:////absolute/bus.db (got {url!r})')
    if '?' in rest or '#' in rest:
        raise ValueError(
            f'{SCHEME} URLs take no query string; pass settings as '
            f'transport_options (got {url!r})')
    path = rest[1:]
    if not path or path == ':memory:':
        raise ValueError(
            f'{SCHEME} needs a database file shared by processes, '
            f'not {url!r}')
    return path


def sqlalchemy_url_from_url(url: str) -> str:
    """Return the SQLAlchemy URL (``sqlite:///...``) used for ``url``."""
    return 'sqlite:///' + sqlite_path_from_url(url)


# ------------------------------------------------------ process-local engines

_ENGINES: dict[tuple, Engine] = {}
_SCHEMAS: set[tuple] = set()
_ENGINES_LOCK = threading.Lock()
_IDENTITY: tuple[int, str] | None = None


def _process_identity() -> str:
    """``host:pid:nonce`` for this process; the nonce changes after fork.

    The nonce tells a restarted worker apart from its predecessor even when
    both got the same pid, e.g. pid 1 in a restarted container.
    """
    global _IDENTITY
    pid = os.getpid()
    if _IDENTITY is None or _IDENTITY[0] != pid:
        _IDENTITY = (pid, f'{socket.gethostname()}:{pid}:{uuid.uuid4().hex[:8]}')
    return _IDENTITY[1]


def _enable_wal(dbapi_connection: sqlite3.Connection, deadline: float) -> None:
    # Switching journal mode may fail with "database is locked" while
    # another process is converting the file at the same time; retry.
    while True:
        try:
            cur = dbapi_connection.execute('PRAGMA journal_mode=WAL')
            mode = cur.fetchone()[0]
            cur.close()
        except sqlite3.OperationalError as exc:
            if 'locked' not in str(exc).lower() or time.monotonic() > deadline:
                raise
            time.sleep(0.02)
            continue
        if str(mode).lower() != 'wal':
            raise sqlite3.OperationalError(
                f'could not switch bus database to WAL (mode={mode!r})')
        return


def _get_engine(db_path: str, busy_timeout: float) -> Engine:
    """One engine per (process, file): SQLite handles never cross a fork."""
    key = (os.getpid(), db_path, busy_timeout)
    engine = _ENGINES.get(key)
    if engine is not None:
        return engine
    with _ENGINES_LOCK:
        engine = _ENGINES.get(key)
        if engine is not None:
            return engine
        directory = os.path.dirname(db_path)
        if directory:
            os.makedirs(directory, exist_ok=True)
        engine = create_engine(
            URL.create('sqlite', database=db_path),
            # transactions are issued explicitly (BEGIN IMMEDIATE / COMMIT)
            isolation_level='AUTOCOMMIT',
            connect_args={'timeout': busy_timeout,
                          'check_same_thread': False},
        )

        @event.listens_for(engine, 'connect')
        def _on_connect(dbapi_connection, _record):
            dbapi_connection.execute(
                f'PRAGMA busy_timeout = {int(busy_timeout * 1000)}')
            _enable_wal(dbapi_connection, time.monotonic() + busy_timeout)
            dbapi_connection.execute('PRAGMA synchronous = NORMAL')

        _ENGINES[key] = engine
        return engine


def _ensure_schema(engine: Engine, db_path: str, table: str) -> None:
    key = (os.getpid(), db_path, table)
    if key in _SCHEMAS:
        return
    with engine.connect() as conn:
        conn.exec_driver_sql('BEGIN IMMEDIATE')
        try:
            conn.exec_driver_sql(
                f'CREATE TABLE IF NOT EXISTS {table} ('  # nosec B608
                ' id INTEGER PRIMARY KEY AUTOINCREMENT,'
                ' queue TEXT NOT NULL,'
                ' payload TEXT NOT NULL,'
                ' published_at REAL NOT NULL,'
                ' inflight_since REAL,'
                ' claim TEXT,'
                ' consumer TEXT,'
                ' delivery_count INTEGER NOT NULL DEFAULT 0)')
            conn.exec_driver_sql(
                f'CREATE INDEX IF NOT EXISTS ix_{table}_queue_id '  # nosec B608
                f'ON {table} (queue, id)')  # nosec B608
            conn.exec_driver_sql('COMMIT')
        except BaseException:
            _rollback_quietly(conn)
            raise
    _SCHEMAS.add(key)


def _rollback_quietly(conn: Connection) -> None:
    try:
        conn.exec_driver_sql('ROLLBACK')
    except Exception:  # no transaction open / connection already broken
        pass


def _parse_tag(delivery_tag: Any) -> tuple[int, str] | None:
    """``"<row id>.<claim>"`` → ``(row id, claim)``; None if not ours."""
    if not isinstance(delivery_tag, str):
        return None
    row_id, sep, claim = delivery_tag.partition('.')
    if not sep or not claim or not row_id.isdigit():
        return None
    return int(row_id), claim


def _as_float(value: Any, name: str) -> float:
    try:
        result = float(value)
    except (TypeError, ValueError):
        raise ValueError(f'transport option {name} must be a number, '
                         f'got {value!r}') from None
    if result < 0:
        raise ValueError(f'transport option {name} must be >= 0')
    return result


# ------------------------------------------------------------------- channel

class Channel(_kombu_sqla.Channel):
    """kombu channel storing messages in the embedded SQLite bus file."""

    visibility_timeout = DEFAULT_VISIBILITY_TIMEOUT
    busy_timeout = DEFAULT_BUSY_TIMEOUT

    def __init__(self, connection, **kwargs):
        opts = connection.client.transport_options or {}
        self.visibility_timeout = _as_float(
            opts.get('visibility_timeout', DEFAULT_VISIBILITY_TIMEOUT),
            'visibility_timeout')
        self.busy_timeout = _as_float(
            opts.get('busy_timeout', DEFAULT_BUSY_TIMEOUT), 'busy_timeout')
        self._no_ack_queues: set[str] = set()
        self._db_path: str | None = None
        super().__init__(connection, **kwargs)

    # -- kombu sqla hooks replaced: nothing here touches kombu's ORM models --

    def _configure_entity_tablenames(self, opts):
        # The table name is the only identifier put into SQL text (bandit B608 lines): it is
        # validated here; every value is a bound parameter.
        table = opts.get('message_tablename', DEFAULT_MESSAGE_TABLE)
        if not _IDENTIFIER.match(table):
            raise ValueError(f'invalid message_tablename {table!r}')
        self.message_tablename = table
        self.queue_tablename = None  # no queue table: queue is a column

    def _engine_from_config(self):
        # Unlike the parent, never hand transport options to create_engine().
        return _get_engine(self.db_path, self.busy_timeout)

    @property
    def db_path(self) -> str:
        """Absolute path of the bus file (relative URLs resolve once)."""
        if self._db_path is None:
            self._db_path = os.path.abspath(
                sqlite_path_from_url(self.connection.client.hostname))
        return self._db_path

    def _open(self) -> Engine:
        engine = self._engine_from_config()
        _ensure_schema(engine, self.db_path, self.message_tablename)
        return engine

    @property
    def session(self):  # pragma: no cover - guard against parent code paths
        raise NotImplementedError('the embedded bus channel has no ORM session')

    @contextmanager
    def _write(self) -> Iterator[Connection]:
        """One write transaction that takes the database lock up front."""
        with self._open().connect() as conn:
            conn.exec_driver_sql('BEGIN IMMEDIATE')
            try:
                yield conn
                conn.exec_driver_sql('COMMIT')
            except BaseException:
                _rollback_quietly(conn)
                raise

    def _visible_cutoff(self) -> float:
        return time.time() - self.visibility_timeout

    # -- virtual channel storage API --

    def _new_queue(self, queue, **kwargs):
        self._open()  # creates the file and schema on declare

    def _has_queue(self, queue, **kwargs):
        return True

    def _put(self, queue, message, **kwargs):
        payload = json.dumps(message, ensure_ascii=False)
        with self._write() as conn:
            conn.exec_driver_sql(
                f'INSERT INTO {self.message_tablename} '  # nosec B608
                '(queue, payload, published_at, delivery_count) '
                'VALUES (?, ?, ?, 0)',
                (queue, payload, time.time()))

    def _get(self, queue, timeout=None):
        return self._fetch(queue, no_ack=queue in self._no_ack_queues)

    def _fetch(self, queue: str, no_ack: bool = False) -> dict:
        table = self.message_tablename
        visible = ('queue = ? AND (inflight_since IS NULL '
                   'OR inflight_since < ?)')
        engine = self._open()
        # Cheap read first (WAL readers take no lock), so that idle
        # consumers polling every few ms never contend with producers.
        with engine.connect() as conn:
            found = conn.exec_driver_sql(
                f'SELECT 1 FROM {table} WHERE {visible} LIMIT 1',  # nosec B608
                (queue, self._visible_cutoff())).first()
        if found is None:
            raise Empty()

        now = time.time()
        claim = uuid.uuid4().hex
        pick = (f'(SELECT id FROM {table} WHERE {visible} '  # nosec B608
                'ORDER BY id LIMIT 1)')
        with self._write() as conn:
            if no_ack:
                row = conn.exec_driver_sql(
                    f'DELETE FROM {table} WHERE id = {pick} '  # nosec B608
                    'RETURNING id, payload, delivery_count + 1',
                    (queue, now - self.visibility_timeout)).first()
            else:
                row = conn.exec_driver_sql(
                    f'UPDATE {table} SET inflight_since = ?, claim = ?, '  # nosec B608
                    'consumer = ?, delivery_count = delivery_count + 1 '
                    f'WHERE id = {pick} '
                    'RETURNING id, payload, delivery_count',
                    (now, claim, _process_identity(), queue,
                     now - self.visibility_timeout)).first()
        if row is None:
            raise Empty()
        row_id, raw, delivery_count = row
        payload = json.loads(bytes_to_str(raw))
        props = payload.setdefault('properties', {})
        props['delivery_tag'] = f'{row_id}.{claim}'
        info = props.get('delivery_info')
        if not isinstance(info, dict):
            info = props['delivery_info'] = {}
        info['redelivered'] = delivery_count > 1
        info['delivery_count'] = delivery_count
        payload['redelivered'] = delivery_count > 1
        return payload

    def _size(self, queue):
        with self._open().connect() as conn:
            return conn.exec_driver_sql(
                f'SELECT count(*) FROM {self.message_tablename} '  # nosec B608
                'WHERE queue = ? AND (inflight_since IS NULL '
                'OR inflight_since < ?)',
                (queue, self._visible_cutoff())).scalar_one()

    def _purge(self, queue):
        """Delete the ready messages of ``queue`` (in-flight ones stay)."""
        with self._write() as conn:
            return conn.exec_driver_sql(
                f'DELETE FROM {self.message_tablename} '  # nosec B608
                'WHERE queue = ? AND (inflight_since IS NULL '
                'OR inflight_since < ?)',
                (queue, self._visible_cutoff())).rowcount

    def _delete(self, queue, *args, **kwargs):
        with self._write() as conn:
            conn.exec_driver_sql(
                f'DELETE FROM {self.message_tablename} WHERE queue = ?',  # nosec B608
                (queue,))

    # -- acknowledgement / redelivery --

    def _delete_row(self, row_id: int) -> None:
        # By id only: even if the claim expired and another consumer got
        # the message meanwhile, it has been handled; its later ack is a no-op.
        with self._write() as conn:
            conn.exec_driver_sql(
                f'DELETE FROM {self.message_tablename} WHERE id = ?',  # nosec B608
                (row_id,))

    def _unclaim(self, row_id: int, claim: str) -> int:
        # Only our own claim: never yank a message another consumer now holds.
        with self._write() as conn:
            return conn.exec_driver_sql(
                f'UPDATE {self.message_tablename} SET inflight_since = NULL, '  # nosec B608
                'claim = NULL, consumer = NULL WHERE id = ? AND claim = ?',
                (row_id, claim)).rowcount

    def basic_consume(self, queue, no_ack, callback, consumer_tag, **kwargs):
        if no_ack:
            self._no_ack_queues.add(queue)
        else:
            self._no_ack_queues.discard(queue)
        return super().basic_consume(queue, no_ack, callback, consumer_tag,
                                     **kwargs)

    def basic_cancel(self, consumer_tag):
        queue = self._tag_to_queue.get(consumer_tag)
        result = super().basic_cancel(consumer_tag)
        if queue is not None and queue not in self._active_queues:
            self._no_ack_queues.discard(queue)
        return result

    def basic_get(self, queue, no_ack=False, **kwargs):
        try:
            payload = self._fetch(queue, no_ack=no_ack)
        except Empty:
            return None
        message = self.Message(payload, channel=self)
        if not no_ack:
            self.qos.append(message, message.delivery_tag)
        return message

    def basic_ack(self, delivery_tag, multiple=False):
        ref = _parse_tag(delivery_tag)
        if ref is not None:
            self._delete_row(ref[0])
        super().basic_ack(delivery_tag, multiple=multiple)

    def basic_reject(self, delivery_tag, requeue=False):
        # requeue=True goes through QoS.reject -> _restore_at_beginning.
        if not requeue:
            ref = _parse_tag(delivery_tag)
            if ref is not None:
                self._delete_row(ref[0])
        super().basic_reject(delivery_tag, requeue=requeue)

    def _restore(self, message):
        """Make an unacked message visible again (reject/recover/close)."""
        ref = _parse_tag(message.delivery_tag)
        if ref is None:
            # Not fetched from this bus: fall back to re-publishing it.
            return super()._restore(message)
        self._unclaim(*ref)

    def _restore_at_beginning(self, message):
        # The row keeps its id, so it is already first in line again.
        return self._restore(message)

    # -- operations helpers --

    def requeue_inflight(self, queue: str | None = None,
                         include_own: bool = False) -> int:
        """Make in-flight messages visible again right away.

        ``queue=None`` means every queue. Claims held by this very process
        are kept unless ``include_own`` is true. Returns the number of
        messages requeued.
        """
        sql = (f'UPDATE {self.message_tablename} SET inflight_since = NULL, '  # nosec B608
               'claim = NULL, consumer = NULL WHERE inflight_since IS NOT NULL')
        params: list[Any] = []
        if queue is not None:
            sql += ' AND queue = ?'
            params.append(queue)
        if not include_own:
            sql += ' AND (consumer IS NULL OR consumer != ?)'
            params.append(_process_identity())
        with self._write() as conn:
            return conn.exec_driver_sql(sql, tuple(params)).rowcount

    def inflight_count(self, queue: str | None = None) -> int:
        """Number of messages currently claimed (visibility not expired)."""
        sql = (f'SELECT count(*) FROM {self.message_tablename} '  # nosec B608
               'WHERE inflight_since >= ?')
        params: list[Any] = [self._visible_cutoff()]
        if queue is not None:
            sql += ' AND queue = ?'
            params.append(queue)
        with self._open().connect() as conn:
            return conn.exec_driver_sql(sql, tuple(params)).scalar_one()


# ----------------------------------------------------------------- transport

class Transport(_kombu_sqla.Transport):
    """kombu transport for ``fgsqlite://`` URLs (embedded SQLite bus)."""

    Channel = Channel

    #: seconds between polls of an empty queue; the transport option
    #: ``polling_interval`` overrides it (read by kombu's virtual Transport).
    polling_interval = DEFAULT_POLLING_INTERVAL

    can_parse_url = True
    default_port = 0
    driver_type = 'sql'
    driver_name = 'sqlite'
    connection_errors = (OperationalError, sqlite3.OperationalError)

    def __init__(self, client, **kwargs):
        super().__init__(client, **kwargs)
        if self.polling_interval is not None:
            self.polling_interval = _as_float(self.polling_interval,
                                              'polling_interval')

    def driver_version(self):
        return sqlite3.sqlite_version

    def as_uri(self, uri, include_password=False, mask='**'):
        return uri


def _resolve_channel(connection_or_channel) -> Channel:
    channel = connection_or_channel
    if not isinstance(channel, Channel):
        channel = getattr(connection_or_channel, 'default_channel', None)
    if not isinstance(channel, Channel):
        raise TypeError(
            f'expected a kombu Connection/channel on {SCHEME}://, '
            f'got {connection_or_channel!r}')
    return channel


def requeue_inflight(connection, queue_name=None, *,
                     include_own: bool = False) -> int:
    """Make every in-flight message of ``queue_name`` visible again now.

    The queue's single embedded worker calls this at start: whatever is
    still claimed was held by its previous incarnation, which was killed
    before it could ack or requeue. ``connection`` is a
    ``kombu.Connection("fgsqlite://...")`` (or one of its channels);
    ``queue_name`` is a queue name or a ``kombu.Queue``; ``None`` means all
    queues. Returns how many messages were made visible.

    Do not call it while another live consumer serves the same queue (it
    would get duplicates); a slow or stuck consumer is covered by the
    ``visibility_timeout`` instead.
    """
    name = getattr(queue_name, 'name', queue_name)
    return _resolve_channel(connection).requeue_inflight(
        name, include_own=include_own)


register()
