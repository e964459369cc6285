"""双随机 draws: reproducible, auditable random selection from a pool.

A draw is a pure function of (seed, pool, count): every candidate id is ranked by
SHA-256("<seed>|<id>") and the ``count`` lowest ranks win, in rank order. The order the pool
is listed in does not matter (it is de-duplicated and sorted first), nothing depends on the Python
version or a PRNG implementation, and anyone can re-compute a recorded draw with any SHA-256 tool.
"""
from __future__ import annotations

import hashlib
import secrets
from collections.abc import Iterable

ALGORITHM = "sha256-rank-v1"


class DrawError(ValueError):
    def __init__(self, code: str, zh: str, en: str):
        super().__init__(en)
        self.code, self.zh, self.en = code, zh, en


def new_seed() -> str:
    return secrets.token_hex(16)


def canonical_pool(pool: Iterable[str], exclude: Iterable[str] = ()) -> list[str]:
    excluded = set(exclude)
    return sorted({str(p) for p in pool} - excluded)


def pool_hash(pool: Iterable[str]) -> str:
    return hashlib.sha256("\n".join(sorted(set(pool))).encode()).hexdigest()


def rank(seed: str, candidate: str) -> str:
    return hashlib.sha256(f"{seed}|{candidate}".encode()).hexdigest()


def draw(seed: str, pool: Iterable[str], count: int, exclude: Iterable[str] = ()) -> list[str]:
    """The ``count`` candidates of ``pool`` (minus ``exclude``) the seed selects, in draw order."""
    if not seed:
        raise DrawError("draw_seed_required", "抽取种子不能为空", "the seed may not be empty")
    candidates = canonical_pool(pool, exclude)
    if count < 1:
        raise DrawError("draw_count_invalid", "抽取数量至少为 1", "count must be at least 1")
    if count > len(candidates):
        raise DrawError("draw_pool_too_small",
                        f"名录库可抽取 {len(candidates)} 个，少于需抽取的 {count} 个",
                        f"the pool has {len(candidates)} eligible candidates, fewer than {count}")
    return sorted(candidates, key=lambda c: rank(seed, c))[:count]
