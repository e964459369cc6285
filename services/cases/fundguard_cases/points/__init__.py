"""Staff points (驾照式记分, 医保支付资格管理) and institution standing.

* ``identity``  — the national identifier, only ever stored as a keyed hash (HMAC-SHA256).
* ``config``    — every points number with its source and certainty tag, overridable per area.
* ``ledger``    — one record per person nationally (一人一档); an append-only ledger of scores,
                  restorations (修复), reversals and re-registrations; restrictions derived from it.
* ``procedure`` — notice and 陈述申辩 before a score (proposals), waiver, decision on the defence,
                  entry after the window; 复核 (objections) after it; the daily tick.
* ``standing``  — institution agreement status, suspensions, re-application bans and credit tier
                  (信用等级), projected from ``sanction.decided`` events consumed from the bus.
* ``announce``  — every points / standing change as an event for notify (``points.*``,
                  ``standing.changed``), restriction changes announced once.
* ``models``    — the procedure's tables (migration 0005).
* ``api``       — HTTP resources (``/api/v1/persons``, ``/api/v1/institutions``).
"""
