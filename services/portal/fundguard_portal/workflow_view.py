"""The workflow diagram, read from the cases service's mermaid text and shown without any
client-side library: the states in procedure order with the current one highlighted."""
from __future__ import annotations

import re
from dataclasses import dataclass, field

_STATE = re.compile(r"^\s*([A-Za-z_][\w]*)\s*:\s*(.+?)\s*$")
_EDGE = re.compile(r"^\s*(\[\*\]|[A-Za-z_][\w]*)\s*-->\s*(\[\*\]|[A-Za-z_][\w]*)\s*(?::\s*(.*?))?\s*$")


@dataclass
class Diagram:
    initial: str | None = None
    states: dict[str, str] = field(default_factory=dict)      # name -> label, declared order
    edges: list[tuple[str, str, str]] = field(default_factory=list)   # (src, dst, label)
    final: set[str] = field(default_factory=set)

    def label(self, state: str | None) -> str:
        if not state:
            return "—"
        return self.states.get(state, state)

    def next_states(self, state: str) -> list[str]:
        seen: list[str] = []
        for src, dst, _ in self.edges:
            if src == state and dst != state and dst not in seen:
                seen.append(dst)
        return seen

    def edge_labels(self, src: str | None, dst: str) -> list[str]:
        return [lbl for s, d, lbl in self.edges if s == src and d == dst and lbl]

    def ordered(self) -> list[str]:
        """States in the order the definition declares them (the procedure's order), then any
        that only appear in edges."""
        names = list(self.states)
        for src, dst, _ in self.edges:
            for n in (src, dst):
                if n not in names:
                    names.append(n)
        return names


def parse_mermaid(text: str) -> Diagram:
    d = Diagram()
    for line in (text or "").splitlines():
        line = line.rstrip()
        if not line.strip() or line.strip().startswith(("stateDiagram", "%%")):
            continue
        m = _EDGE.match(line)
        if m:
            src, dst, label = m.group(1), m.group(2), (m.group(3) or "").strip()
            if src == "[*]":
                d.initial = dst
            elif dst == "[*]":
                d.final.add(src)
            else:
                d.edges.append((src, dst, label))
            continue
        m = _STATE.match(line)
        if m:
            d.states[m.group(1)] = m.group(2)
    return d


def trigger_labels(diagram_json: dict) -> dict[str, str]:
    """trigger -> label, when the service lists its steps next to the mermaid text."""
    steps = diagram_json.get("steps") if isinstance(diagram_json, dict) else None
    out: dict[str, str] = {}
    if isinstance(steps, list):
        for s in steps:
            if isinstance(s, dict) and s.get("trigger") and s.get("label"):
                out[str(s["trigger"])] = str(s["label"])
    return out


def flow_items(d: Diagram, current: str, visited: set[str]) -> list[dict]:
    """What the case page draws: every state, with status done / current / next / todo."""
    nxt = set(d.next_states(current))
    items = []
    for n in d.ordered():
        status = ("current" if n == current else "done" if n in visited else
                  "next" if n in nxt else "todo")
        items.append({"name": n, "label": d.label(n), "status": status,
                      "final": n in d.final})
    return items
