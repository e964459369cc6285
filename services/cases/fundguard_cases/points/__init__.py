"""Staff points (驾照式记分, 医保支付资格管理) and institution standing.

* ``identity``  — the national identifier, only ever stored as a keyed hash (HMAC-SHA256).
* ``config``    — every points number with its source and certainty tag, overridable per area.
* ``ledger``    — one record per person nationally (一人一档); an append-only ledger of scores,
                  restorations (修复), reversals and re-registrations; restrictions derived from it.
* ``standing``  — institution agreement status, suspensions and re-application bans, projected
                  from ``sanction.decided`` events.
* ``api``       — HTTP resources (``/api/v1/persons``, ``/api/v1/institutions``).
"""
