"""The README shows the workflow diagram the cases service actually runs."""
from pathlib import Path

from fundguard_cases.workflow import mermaid


def test_readme_carries_the_current_workflow_diagram():
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")
    assert f"```mermaid\n{mermaid().rstrip()}\n```" in readme
