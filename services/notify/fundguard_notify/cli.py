"""``fundguard-notify``: migrate, worker, dead-letters (events), plus the delivery commands:

* ``webhook-dead-letters``  list deliveries that exhausted their retries;
* ``replay-webhook ID``     put a dead / failed / uncertain delivery back in the queue;
* ``tick``                  run the reminder and digest scheduler once (cron-friendly).
"""
import json
import sys

from fundguard_shared.cli import service_main


def _dead_letters(args) -> int:
    from sqlalchemy import select

    from .models import Delivery
    from .runtime import runtime
    with runtime().sessions() as session:
        q = select(Delivery).where(Delivery.status == "dead").order_by(
            Delivery.updated_at.desc()).limit(args.limit)
        for d in session.execute(q).scalars():
            print(json.dumps({"id": d.id, "channel": d.channel, "to": d.address,
                              "kind": d.kind, "attempts": d.attempts, "error": d.last_error,
                              "at": d.updated_at.isoformat()}, ensure_ascii=False))
    return 0


def _replay(args) -> int:
    from .delivery import replay
    from .runtime import notify_config, runtime
    with runtime().sessions() as session, session.begin():
        try:
            d = replay(session, args.id, notify_config())
        except LookupError:
            print(f"no such delivery / 无此投递: {args.id}", file=sys.stderr)
            return 1
        except ValueError as exc:
            print(f"status {exc} cannot be replayed / 当前状态不能重发", file=sys.stderr)
            return 1
        print(json.dumps({"id": d.id, "status": d.status, "replays": d.replays}))
    return 0


def _tick(_args) -> int:
    from .runtime import runtime
    from .worker import scheduler_tick
    print(json.dumps(scheduler_tick(runtime().sessions)))
    return 0


def main() -> None:
    from .worker import main as worker_main
    extra = {
        "webhook-dead-letters": ("list deliveries that gave up / 列出投递死信", _dead_letters,
                                 lambda p: p.add_argument("--limit", type=int, default=50)),
        "replay-webhook": ("replay one dead delivery / 重发投递", _replay,
                           lambda p: p.add_argument("id")),
        "tick": ("run reminders and digests once / 执行一次提醒与汇总", _tick, lambda p: None),
    }
    sys.exit(service_main("notify", "fundguard_notify", worker_main, extra))
