import sys

from fundguard_shared.cli import service_main


def main() -> None:
    from .worker import main as worker_main
    sys.exit(service_main("notify", "fundguard_notify", worker_main))
