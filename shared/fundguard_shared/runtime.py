"""What a service process needs at hand: settings, engine, sessions, messaging tables."""
from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.engine import Engine
from sqlalchemy.orm import sessionmaker

from .config import Settings, load_settings
from .db import make_engine, make_sessionmaker
from .outbox import MessagingTables


@dataclass
class Runtime:
    settings: Settings
    engine: Engine
    sessions: sessionmaker
    tables: MessagingTables

    @classmethod
    def create(cls, service: str, tables: MessagingTables) -> "Runtime":
        settings = load_settings(service)
        engine = make_engine(settings.database_url)
        return cls(settings, engine, make_sessionmaker(engine), tables)
