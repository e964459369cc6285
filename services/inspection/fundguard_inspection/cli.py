import sys

from fundguard_shared.cli import service_main


def main() -> None:
    from .worker import main as worker_main
    sys.exit(service_main("inspection", "fundguard_inspection", worker_main))
