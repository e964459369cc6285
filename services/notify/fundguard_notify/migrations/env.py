from fundguard_notify.models import Base
from fundguard_shared.migrations_env import run

run(Base.metadata)
