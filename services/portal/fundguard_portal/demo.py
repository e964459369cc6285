"""Demo users of the one-machine run: the same subs and scopes as scripts/demo.py's DEMO_USERS
(tests/test_portal_app.py checks they agree). For the demo only — never seed them in production.

Every demo user's password is DEMO_PASSWORD (override with PORTAL_DEMO_PASSWORD)."""
from __future__ import annotations

DEMO_PASSWORD = "fg-demo-2026"

DEMO_USERS = [
    # username, role, display name, region, department, institution_id
    ("insp-zhang", "inspector", "张检查", "510100", "稽核一科", None),
    ("insp-li", "inspector", "李检查", "510100", "稽核二科", None),
    ("leader-wang", "leader", "王局长", "510100", None, None),
    ("legal-zhao", "legal_reviewer", "赵法制", "510100", None, None),
    ("panel-chen", "panel_member", "陈委员", "510100", None, None),
    ("panel-liu", "panel_member", "刘委员", "510100", None, None),
    ("panel-sun", "panel_member", "孙委员", "510100", None, None),
    ("panel-zhou", "panel_member", "周委员", "510100", None, None),
    ("inst-hx", "institution", "成都某某医院", None, None, "H5101001"),
    ("admin", "admin", "管理员", None, None, None),
]
