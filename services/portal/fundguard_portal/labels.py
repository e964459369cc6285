"""What users read: Chinese labels for the stable keys the services use."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

from fundguard_shared.auth import ROLE_LABELS_ZH
from fundguard_shared.catalogue import VIOLATION_TYPES

ROLE_LABELS = dict(ROLE_LABELS_ZH)
ACTOR_ROLE_LABELS = ROLE_LABELS | {"system": "系统"}
SOURCE_LABELS = {"flight_inspection": "飞行检查", "complaint": "举报投诉", "screening": "智能筛查",
                 "agency_referral": "部门移送", "other": "其他"}
PARTY_LABELS = {"entity": "单位（定点医药机构）", "individual": "个人"}
VIOLATION_LABELS = {k: v.label_zh for k, v in VIOLATION_TYPES.items()}
ACTION_FALLBACK = {  # audit actions that are not workflow steps (those take the step's label)
    "register": "登记线索", "attach_file": "上传附件",
    "issue_document": "出具文书", "void_document": "文书作废", "serve_document": "登记送达",
    "dispatch_document": "电子送达（待当事人查阅）", "consent_electronic_service": "同意电子送达",
    "publication_published": "公示", "publication_withdrawn": "撤回公示",
    "publication_cancelled": "取消公示", "publication_blocked": "公示未通过脱敏校验",
}

CHINA = timezone(timedelta(hours=8))     # no daylight saving in China


def parse_dt(value) -> datetime | None:
    if isinstance(value, datetime):
        dt = value
    elif isinstance(value, str) and value:
        try:
            dt = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return None
    else:
        return None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=timezone.utc)
    return dt.astimezone(CHINA)


def fmt_dt(value) -> str:
    dt = parse_dt(value)
    return dt.strftime("%Y-%m-%d %H:%M") if dt else (value or "—")


def fmt_amount(value) -> str:
    try:
        return f"{float(value):,.2f} 元"
    except (TypeError, ValueError):
        return "—"


def scope_text(region=None, department=None, institution_id=None) -> str:
    parts = []
    if region:
        parts.append(f"统筹区 {region}")
    if department:
        parts.append(department)
    if institution_id:
        parts.append(f"机构 {institution_id}")
    return "，".join(parts) or "—"
