from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from sqlalchemy.engine import Engine
from sqlalchemy.orm import sessionmaker

from fundguard_shared.db import make_engine, make_sessionmaker

from .config import PortalSettings, load_portal_settings


@dataclass
class PortalRuntime:
    settings: PortalSettings
    engine: Engine
    sessions: sessionmaker

    @classmethod
    def create(cls, settings: PortalSettings | None = None) -> "PortalRuntime":
        settings = settings or load_portal_settings()
        engine = make_engine(settings.database_url)
        return cls(settings, engine, make_sessionmaker(engine))


@lru_cache(maxsize=1)
def runtime() -> PortalRuntime:
    return PortalRuntime.create()
