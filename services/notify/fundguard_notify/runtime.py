from functools import lru_cache

from fundguard_shared.runtime import Runtime

from .config import NotifyConfig, load_config
from .models import MESSAGING, SERVICE
from .rules import RuleBook


@lru_cache(maxsize=1)
def runtime() -> Runtime:
    return Runtime.create(SERVICE, MESSAGING)


@lru_cache(maxsize=1)
def notify_config() -> NotifyConfig:
    return load_config()


@lru_cache(maxsize=1)
def rulebook() -> RuleBook:
    return RuleBook.load(notify_config().rules_path)


def reset() -> None:
    """Forget cached settings (tests change the environment between cases)."""
    for f in (runtime, notify_config, rulebook):
        f.cache_clear()
