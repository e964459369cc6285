from sqlalchemy import MetaData

from fundguard_shared.db import make_engine
from fundguard_shared.ratelimit import hit, rate_limit_table


def test_rate_limit_counts_per_window_and_resets(tmp_path):
    md = MetaData()
    table = rate_limit_table(md)
    engine = make_engine(f"sqlite:///{tmp_path / 'r.db'}")
    md.create_all(engine)
    t0 = 1_000_000.0
    results = [hit(engine, table, "login|1.2.3.4", 3, 60, now=t0 + i)[0] for i in range(5)]
    assert results == [True, True, True, False, False]
    assert hit(engine, table, "login|5.6.7.8", 3, 60, now=t0)[0] is True  # other client
    assert hit(engine, table, "login|1.2.3.4", 3, 60, now=t0 + 61)[0] is True  # next window
    allowed, retry = hit(engine, table, "login|1.2.3.4", 3, 60, now=t0 + 62)
    assert allowed and 0 < retry <= 60
