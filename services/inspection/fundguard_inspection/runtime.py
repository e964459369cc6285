from functools import lru_cache

from fundguard_shared.runtime import Runtime

from .models import MESSAGING, SERVICE


@lru_cache(maxsize=1)
def runtime() -> Runtime:
    return Runtime.create(SERVICE, MESSAGING)
