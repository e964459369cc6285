from fundguard_portal.models import Base
from fundguard_shared.migrations_env import run

run(Base.metadata)
