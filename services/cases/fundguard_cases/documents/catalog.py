"""The document types: which step of the procedure issues each one, its 文号 code, who it is
addressed to. Types are code (they follow the workflow); their wording is a template (config)."""
from __future__ import annotations

import json
import os
from dataclasses import dataclass
from typing import Callable

from ..guards import CaseFile
from ..models import Case

# a predicate over the case and its file: None = may be issued now, else why not (zh, en)
Gate = Callable[[Case, CaseFile], "tuple[str, str] | None"]

_AFTER_OPENING = ("opened", "investigating", "suspended", "terminated", "reported", "legal_review", "reviewed",
                  "panel", "discussed", "notified", "hearing_requested", "hearing_scheduled", "heard",
                  "decided", "served", "enforcing", "closed")


def _states(*states: str, zh: str) -> Gate:
    def gate(case, f):
        if case.state not in states:
            return (f"案件当前状态不能出具此文书（{zh}）", f"not issuable in state {case.state}")
        return None
    return gate


def _all(*gates: Gate) -> Gate:
    def gate(case, f):
        for g in gates:
            why = g(case, f)
            if why:
                return why
        return None
    return gate


def _decision(kind: str, zh: str) -> Gate:
    def gate(case, f):
        if f.details is None or f.details.decision_kind != kind:
            return (f"案件未作出{zh}", f"the case has no {kind} decision")
        return None
    return gate


def _preservation_open(case, f):
    if f.running_deadline("preservation_decision") is None:
        return ("没有待处理的先行登记保存", "no evidence preservation is pending")
    return None


def _agreement(kind: str, zh: str) -> Gate:
    def gate(case, f):
        if not any(s.stage == "agreement" and s.kind == kind for s in f.sanctions):
            return (f"案件未作出{zh}的协议处理", f"no agreement action {kind} recorded")
        return None
    return gate


def _prior_notice_ready(case, f):
    if not f.latest_proposal():
        return ("没有拟作出的行政处罚", "no intended sanction")
    return None


@dataclass(frozen=True)
class DocType:
    code: str
    label: str
    step: str              # the workflow step that issues it (trigger or state)
    number_code: str | None  # 文号 type code: X医保{code}〔year〕n号; None = no 文号 (internal forms)
    external: bool         # addressed to the party (institutions see it, service applies)
    gate: Gate
    serves: str | None = None  # the workflow trigger its recorded service fires (served_on = receipt)


TYPES: dict[str, DocType] = {t.code: t for t in (
    DocType("filing_approval", "立案审批表", "open_case", None, False,
            _states(*_AFTER_OPENING, zh="批准立案后")),
    DocType("not_opened_notice", "不予立案告知书", "decline", "不立告", True,
            _states("not_opened", zh="不予立案后")),
    DocType("preservation_notice", "先行登记保存通知书", "preserve_evidence", "先保", True,
            _all(_states("investigating", "suspended", zh="调查中"), _preservation_open)),
    DocType("prior_notice", "行政处罚事先告知书", "notify", "罚告", True,
            _all(_states("reported", "reviewed", "discussed", zh="调查终结、法制审核或集体讨论后，送达前"),
                 _prior_notice_ready),
            serves="notify"),
    DocType("hearing_notice", "听证通知书", "schedule_hearing", "听通", True,
            _states("hearing_scheduled", zh="决定举行听证后")),
    DocType("decision", "行政处罚决定书", "decide", "罚", True,
            _all(_states("decided", zh="作出决定后、送达前"), _decision("sanction", "行政处罚决定")),
            serves="serve"),
    DocType("no_sanction_decision", "不予行政处罚决定书", "decide", "不罚", True,
            _all(_states("decided", zh="作出决定后、送达前"), _decision("no_sanction", "不予行政处罚决定")),
            serves="serve"),
    DocType("service_receipt", "送达回证", "serve", None, False,
            _states(*_AFTER_OPENING, "not_opened", zh="立案后")),
    DocType("demand_notice", "催告书", "apply_court_enforcement", "催", True,
            _states("enforcing", zh="执行中")),
    DocType("referral", "涉嫌犯罪案件移送书", "decide", "移", False,
            _all(_states("decided", "served", "closed", zh="作出移送决定后"), _decision("referral", "移送决定"))),
    DocType("interview_notice", "约谈通知书", "agreement_action", "约谈", True,
            _agreement("interview", "约谈")),
    DocType("rectify_notice", "限期整改通知书", "agreement_action", "整改", True,
            _agreement("rectify", "限期整改")),
    DocType("suspend_payment_notice", "暂停拨付通知书", "agreement_action", "暂拨", True,
            _agreement("suspend_payment", "暂停拨付")),
    DocType("suspend_agreement_notice", "中止协议通知书", "agreement_action", "中止", True,
            _agreement("suspend_agreement", "中止服务协议")),
    DocType("terminate_agreement_notice", "解除协议通知书", "agreement_action", "解除", True,
            _agreement("terminate_agreement", "解除服务协议")),
    DocType("closing_approval", "结案审批表", "close_case", None, False,
            _states("closed", zh="结案后")),
)}

SERVICE_METHODS = {"direct": "直接送达", "lien": "留置送达", "post": "邮寄送达", "electronic": "电子送达",
                   "public_notice": "公告送达"}


# ---- the issuing authority of a region (configuration) --------------------------------------------

@dataclass(frozen=True)
class Authority:
    region: str
    name: str          # 发文机关, e.g. 成都市医疗保障局
    prefix: str        # 文号 prefix, e.g. 成 -> 成医保罚〔2026〕12号
    review_body: str   # 行政复议机关
    court: str         # 行政诉讼管辖法院


def authority(region: str) -> Authority:
    """From ``CASES_DOCUMENT_AUTHORITIES`` (JSON {region: {name, prefix, review_body, court}});
    a region without an entry gets a neutral default built from its code."""
    raw = os.environ.get("CASES_DOCUMENT_AUTHORITIES", "").strip()
    conf = {}
    if raw:
        try:
            conf = json.loads(raw).get(region) or {}
        except (ValueError, AttributeError):
            conf = {}
    return Authority(region=region,
                     name=str(conf.get("name") or f"{region}医疗保障局"),
                     prefix=str(conf.get("prefix") or region),
                     review_body=str(conf.get("review_body") or "本级人民政府"),
                     court=str(conf.get("court") or "有管辖权的人民法院"))
