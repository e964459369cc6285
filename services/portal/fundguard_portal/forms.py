"""The forms of the case page: one per workflow step, generated from what each step takes.

Each step of the cases workflow reads a reason and a ``data`` object (services/cases
fundguard_cases/guards.py judges it, effects.py stores it). ``STEP_FIELDS`` says, per trigger,
which fields of ``data`` the step reads; whether the reason is required comes from the workflow
itself (the published diagram lists each step's guards: ``reason_given`` = required). The form
turns typed fields into that ``data``; the cases service stays the judge of every value.

Plain functions, no I/O: ``build`` lays out a step's fields with the options the page knows
(people, the current proposal), ``parse`` turns the submitted form back into ``data``.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime

from .labels import CHINA


def china_today() -> date:
    """The day in China: the day the services count legal periods from."""
    return datetime.now(CHINA).date()

# ---- enumerations the services accept (tests/test_portal_forms.py checks them against the
# cases package, so a renamed value fails a test rather than a form) ----------------------------

SANCTION_KINDS = {
    "order_correction": "责令改正", "order_refund": "责令退回", "warning": "警告", "interview": "约谈",
    "rectify": "限期整改", "criticism": "通报批评", "fine": "罚款", "confiscation": "没收违法所得",
    "liquidated_damages": "违约金",
    "department_suspension": "暂停相关责任部门涉及医疗保障基金使用的医药服务",
    "settlement_suspension": "暂停医疗费用联网结算", "suspend_payment": "暂停拨付",
    "suspend_agreement": "中止服务协议", "terminate_agreement": "解除服务协议",
    "practice_ban": "禁止从事定点医药机构管理活动", "recovery": "追回违规费用",
    "refer_police": "移送公安机关", "refer_discipline": "移送纪检监察机关",
    "refer_health": "移送卫生健康主管部门", "refer_drug": "移送药品监督管理部门",
}
ARTICLES = {"37": "条例第37条", "38": "条例第38条", "39": "条例第39条", "40": "条例第40条",
            "41(1)": "条例第41条第1款", "41(2)": "条例第41条第2款", "42": "条例第42条",
            "43": "条例第43条", "44": "条例第44条", "agreement": "服务协议", "referral": "移送规定"}
TIERS = {"no_penalty": "不予处罚", "mitigated": "减轻", "lenient": "从轻", "ordinary": "一般",
         "severe": "从重"}
PROPOSALS = {"sanction": "给予处罚", "no_sanction": "不予处罚", "referral": "移送"}
NO_SANCTION_GROUNDS = {
    "minor_corrected_no_harm": "违法行为轻微并及时改正，没有造成危害后果（行政处罚法第33条第1款）",
    "no_fault": "当事人有证据足以证明没有主观过错（行政处罚法第33条第2款）",
    "first_minor_corrected": "初次违法且危害后果轻微并及时改正",
    "facts_not_established": "违法事实不能成立（行政处罚法第57条）",
    "limitation_expired": "超过追责时效（行政处罚法第36条）",
}
REFERRAL_TARGETS = {"police": "公安机关", "discipline": "纪检监察机关", "health": "卫生健康主管部门",
                    "drug": "药品监督管理部门"}
POLICE_BEHAVIOURS = {
    "organised_fake_admission": "组织虚假住院", "organised_drug_resale": "组织倒卖医保药品",
    "organised_card_swiping": "组织盗刷、套刷医保凭证",
    "forged_documents": "伪造处方、票据、病理报告或基因检测报告",
    "brokering": "从事中介活动（招揽患者、收集医保凭证、经手资金）",
    "concealing_others": "隐瞒、包庇他人违法违规行为",
    "helping_uninsured": "帮助非参保人员享受医保待遇", "violent_obstruction": "以暴力、威胁方法阻碍执法",
    "disposing_sealed_property": "隐藏、转移、变卖、损毁被封存的财物",
    "destroying_evidence": "毁灭证据或者作伪证", "handling_fraud_drugs": "收购、销售骗保所得药品",
    "other": "其他可能违反治安管理或者涉嫌犯罪的行为",
}
VOTES = {"agree": "同意", "disagree": "不同意", "abstain": "弃权"}
APPEAL_KINDS = {"administrative_review": "申请行政复议", "litigation": "提起行政诉讼",
                "litigation_after_review": "复议后提起行政诉讼", "complaint": "申诉"}
APPEAL_OUTCOMES = {"upheld": "维持", "changed": "变更", "annulled": "撤销"}
PAYMENT_KINDS = {"fine": "罚款", "surcharge": "加处罚款", "recovery": "追回/退回",
                 "liquidated_damages": "违约金"}
AGREEMENT_KINDS = {k: SANCTION_KINDS[k] for k in (
    "interview", "rectify", "criticism", "suspend_payment", "suspend_agreement",
    "terminate_agreement", "liquidated_damages", "recovery")}
REQUESTED_BY = {"officer": "本人申请", "party": "当事人申请", "member": "成员申请"}
APPROVERS = {"leader": "负责人批准（延长 30 日）", "panel": "集体讨论决定（另定期限）"}

SANCTION_ROWS = 3
OFFICER_ROWS = 3


@dataclass(frozen=True)
class Field:
    """One input. ``kind``: text, textarea, date, number, select, checkbox, checks (several
    values), officers (rows of person + credential), sanctions (rows of kind, article, quantity),
    file (an attachment; the view handles it)."""
    name: str
    label: str
    kind: str = "text"
    required: bool = False
    options: dict[str, str] | str | None = None    # dict, or the name of options the page supplies
    help: str = ""
    default: str | None = None


F = Field
# the file goes to the case's attachments (cases service) before the step; the step names its id
_ATTACHMENT = F("attachment", "附件（证明材料）", "file",
                help="PDF、JPEG/PNG 图片、OFD 或 Word/Excel 文件（按内容识别）；原件存档并显示 SHA-256")
# which attachment purpose each step's file is filed under
ATTACHMENT_PURPOSES = {"file_defence": "defence", "request_hearing": "hearing_request", "file_appeal": "appeal"}
_SANCTIONS = F("sanctions", "处理/处罚", "sanctions",
               help="每行一项；金额按元，暂停类按月，禁业按年；幅度以右侧法定幅度为准")

STEP_FIELDS: dict[str, tuple[Field, ...]] = {
    "open_case": (
        F("officers", "办案人员（至少两名持执法证人员）", "officers", required=True),
        F("act_date", "违法行为发生日期", "date", help="核对追责时效；不填则用线索中的日期"),
        F("act_end_date", "违法行为终了日期（连续或继续状态）", "date"),
        F("health_harm", "涉及公民生命健康安全且有危害后果（追责时效 5 年）", "checkbox"),
    ),
    "recuse": (
        F("person", "回避人员", "select", required=True, options="people"),
        F("requested_by", "申请方式", "select", options=REQUESTED_BY, default="officer"),
        F("granted", "批准回避", "checkbox", default="1"),
        F("replacement", "替换的办案人员（办案人员回避后不足两名时必填）", "officers"),
    ),
    "preserve_evidence": (F("items", "保存的证据清单", "textarea"),),
    "submit_report": (
        F("proposal", "处理建议", "select", required=True, options=PROPOSALS, default="sanction"),
        _SANCTIONS,
        F("loss", "基金损失金额（元）", "number", help="按倍数计算罚款的基数；不填则用涉及金额"),
        F("intentional_fraud", "故意骗取医保基金", "checkbox"),
        F("complex_case", "情节复杂", "checkbox"),
        F("major_violation", "重大违法行为", "checkbox"),
        F("major_public_interest", "涉及重大公共利益", "checkbox"),
        F("no_sanction_ground", "不予处罚的法定理由", "select", options=NO_SANCTION_GROUNDS),
        F("referral_target", "移送机关", "select", options=REFERRAL_TARGETS),
        F("behaviours", "涉嫌须移送公安机关的情形", "checks", options=POLICE_BEHAVIOURS),
    ),
    "convene_panel": (
        F("members", "参加讨论的成员（不少于法定人数）", "checks", required=True, options="panel_members"),
        F("agenda", "议题", "textarea", required=True),
    ),
    "cast_vote": (
        F("vote", "表决意见", "select", required=True, options=VOTES),
        F("tier", "同意的裁量档次", "select", options=TIERS, help="表决同意时必选"),
    ),
    "conclude_panel": (
        F("tier", "集体讨论决定的裁量档次", "select", required=True, options=TIERS),
        _SANCTIONS,
    ),
    "notify": (F("served_on", "告知书送达日期", "date", default="today"),),
    "file_defence": (_ATTACHMENT,),
    "request_hearing": (_ATTACHMENT,),
    "schedule_hearing": (
        F("hearing_on", "听证日期", "date", required=True),
        F("notified_on", "听证通知送达日期", "date", default="today"),
        F("chair", "听证主持人（非本案调查人员）", "text", required=True),
    ),
    "extend_decision_deadline": (
        F("approved_by", "批准方式", "select", required=True, options=APPROVERS, default="leader"),
        F("new_deadline", "新的期限（集体讨论决定时必填）", "date"),
        F("minutes", "会议纪要（集体讨论决定时必填）", "textarea"),
    ),
    "decide": (
        F("decision", "决定", "select", required=True, options=PROPOSALS, default="sanction"),
        _SANCTIONS,
        F("no_sanction_ground", "不予处罚的法定理由", "select", options=NO_SANCTION_GROUNDS),
        F("referral_target", "移送机关", "select", options=REFERRAL_TARGETS),
    ),
    "decide_simplified": (_SANCTIONS,),
    "serve": (F("served_on", "决定书送达日期", "date", default="today"),),
    "record_payment": (
        F("kind", "款项", "select", required=True, options=PAYMENT_KINDS),
        F("amount", "金额（元）", "number", required=True),
        F("paid_on", "缴纳日期", "date", default="today"),
        F("reference", "缴款凭证号", "text"),
    ),
    "grant_deferral": (F("new_due_on", "延期后的缴纳期限", "date"),),
    "file_appeal": (
        F("kind", "救济途径", "select", required=True, options=APPEAL_KINDS,
          default="administrative_review"),
        F("grounds", "请求与理由", "textarea"),
        F("right_known_on", "知道诉权或起诉期限的日期（未告知时填写）", "date"),
        _ATTACHMENT,
    ),
    "record_appeal_outcome": (
        F("appeal_id", "救济申请", "select", required=True, options="open_appeals"),
        F("outcome", "结果", "select", required=True, options=APPEAL_OUTCOMES),
        _SANCTIONS,
    ),
    "agreement_action": (
        F("kind", "协议处理方式", "select", required=True, options=AGREEMENT_KINDS),
        F("amount", "金额（元，违约金/追回）", "number"),
        F("months", "期限（月，暂停/中止）", "number"),
    ),
}

# Wording of the reason box per step (the default: 理由 / 意见).
REASON_LABELS = {
    "file_defence": "陈述、申辩的事实和理由", "recheck_defence": "复核意见",
    "pass_review": "审核意见", "return_review": "退回理由", "cast_vote": "表决说明",
    "hold_hearing": "听证笔录摘要", "decline": "不予立案理由", "recuse": "回避理由",
    "file_appeal": "备注",
}


@dataclass
class Input:
    """One laid-out input of a step's form (what the template draws)."""
    id: str
    name: str
    label: str
    kind: str
    required: bool = False
    value: str = ""
    checked: bool = False
    options: list[tuple[str, str]] = field(default_factory=list)
    help: str = ""
    rows: list[list["Input"]] = field(default_factory=list)     # officers / sanctions rows
    choices: list["Input"] = field(default_factory=list)        # checks


@dataclass
class StepForm:
    trigger: str
    label: str
    to_label: str
    record: bool
    available: bool
    blocked_by: list[str]
    reason_label: str
    reason_required: bool
    inputs: list[Input]
    raw_json: bool          # a step this portal does not know: a JSON box instead of fields
    multipart: bool


def _opts(spec: Field, known: dict) -> list[tuple[str, str]]:
    src = spec.options
    if isinstance(src, str):
        return list(known.get(src, []))
    return list((src or {}).items())


def _default(spec: Field, today: date) -> str:
    if spec.default == "today":
        return today.isoformat()
    return spec.default or ""


def _sanction_rows(prefix: str, name: str, prefill: list[dict], values: dict,
                   article: str) -> list[list[Input]]:
    rows = []
    for i in range(max(SANCTION_ROWS, len(prefill))):
        p = prefill[i] if i < len(prefill) else {}
        base = f"{name}-{i}"

        def v(key, fallback=""):
            return values.get(f"{base}-{key}", p.get(key) if p.get(key) is not None else fallback)
        rows.append([
            Input(f"{prefix}-{base}-kind", f"{base}-kind", f"第{i + 1}项 种类", "select",
                  value=str(v("kind")), options=[("", "（不填）")] + list(SANCTION_KINDS.items())),
            Input(f"{prefix}-{base}-article", f"{base}-article", f"第{i + 1}项 依据", "select",
                  value=str(v("article", article)), options=list(ARTICLES.items())),
            Input(f"{prefix}-{base}-amount", f"{base}-amount", f"第{i + 1}项 金额（元）", "number",
                  value=str(v("amount"))),
            Input(f"{prefix}-{base}-months", f"{base}-months", f"第{i + 1}项 期限（月）", "number",
                  value=str(v("months"))),
            Input(f"{prefix}-{base}-years", f"{base}-years", f"第{i + 1}项 年限", "number",
                  value=str(v("years"))),
        ])
    return rows


def _officer_rows(prefix: str, name: str, count: int, known: dict, values: dict) -> list[list[Input]]:
    people = [("", "（请选择）")] + list(known.get("inspectors", []))
    rows = []
    for i in range(count):
        base = f"{name}-{i}"
        rows.append([
            Input(f"{prefix}-{base}-id", f"{base}-id", f"第{i + 1}名 办案人员", "select",
                  value=values.get(f"{base}-id", ""), options=people),
            Input(f"{prefix}-{base}-credential_no", f"{base}-credential_no",
                  f"第{i + 1}名 执法证号", "text", value=values.get(f"{base}-credential_no", "")),
        ])
    return rows


def build(action: dict, step: dict | None, *, known: dict, values: dict | None = None,
          prefill_sanctions: list[dict] | None = None, article: str = "38",
          today: date | None = None) -> StepForm:
    """The form of one allowed action. ``step``: the workflow's description of the step (its
    guards), ``known``: options the page supplies (inspectors, panel_members, people,
    open_appeals), ``values``: what the user submitted (redisplay after an error)."""
    trigger = action["trigger"]
    values = values or {}
    today = today or china_today()
    prefix = f"f-{trigger}"
    specs = STEP_FIELDS.get(trigger)
    inputs: list[Input] = []
    for spec in specs or ():
        iid = f"{prefix}-{spec.name}"
        if spec.kind == "sanctions":
            inputs.append(Input(iid, spec.name, spec.label, spec.kind, spec.required, help=spec.help,
                                rows=_sanction_rows(prefix, spec.name, prefill_sanctions or [],
                                                    values, article)))
        elif spec.kind == "officers":
            count = OFFICER_ROWS if spec.name == "officers" else 1
            inputs.append(Input(iid, spec.name, spec.label, spec.kind, spec.required,
                                help=spec.help,
                                rows=_officer_rows(prefix, spec.name, count, known, values)))
        elif spec.kind == "checks":
            chosen = set(values.get(spec.name) or [])
            inputs.append(Input(iid, spec.name, spec.label, spec.kind, spec.required, help=spec.help,
                                choices=[Input(f"{iid}-{k}", spec.name, lbl, "checkbox", value=k,
                                               checked=k in chosen)
                                         for k, lbl in _opts(spec, known)]))
        elif spec.kind == "checkbox":
            checked = (values.get(spec.name) == "1") if values else spec.default == "1"
            inputs.append(Input(iid, spec.name, spec.label, spec.kind, spec.required, value="1",
                                checked=checked, help=spec.help))
        else:
            options = _opts(spec, known)
            if spec.kind == "select" and not spec.required:
                options = [("", "（不适用）")] + options
            inputs.append(Input(iid, spec.name, spec.label, spec.kind, spec.required,
                                value=str(values.get(spec.name, _default(spec, today))),
                                options=options, help=spec.help))
    guards = (step or {}).get("guards") or []
    return StepForm(
        trigger=trigger, label=action.get("label") or trigger,
        to_label=action.get("to_label") or "", record=bool((step or {}).get("record")),
        available=action.get("available", True) is not False,
        blocked_by=list(action.get("blocked_by") or []),
        reason_label=REASON_LABELS.get(trigger, "理由 / 意见"),
        reason_required="reason_given" in guards, inputs=inputs, raw_json=specs is None,
        multipart=any(s.kind == "file" for s in specs or ()))


class FormProblem(ValueError):
    """A Chinese message: what to correct in the form."""


def _rows(form, name: str, keys: tuple[str, ...]) -> list[dict]:
    out = []
    for i in range(20):          # at most 20 rows per group
        row = {k: (form.get(f"{name}-{i}-{k}") or "").strip() for k in keys}
        if any(row.values()):
            out.append(row)
    return out


def parse(trigger: str, form, *, people: dict[str, str] | None = None) -> dict:
    """The ``data`` of a step from its submitted form (``form``: a werkzeug MultiDict).
    ``people``: sub -> name, to complete officer rows from the user list."""
    people = people or {}
    data: dict = {}
    for spec in STEP_FIELDS.get(trigger, ()):
        if spec.kind == "file":
            continue
        if spec.kind == "sanctions":
            items = []
            for row in _rows(form, spec.name, ("kind", "article", "amount", "months", "years")):
                if not row["kind"]:
                    continue
                item = {"kind": row["kind"], "article": row["article"]}
                for k in ("amount", "months", "years"):
                    if row[k]:
                        item[k] = row[k]
                items.append(item)
            if items or spec.required:
                data[spec.name] = items
        elif spec.kind == "officers":
            officers = []
            for row in _rows(form, spec.name, ("id", "credential_no")):
                if not row["id"]:
                    raise FormProblem(f"{spec.label}：请选择办案人员")
                officers.append({"id": row["id"], "name": people.get(row["id"], row["id"]),
                                 "credential_no": row["credential_no"]})
            if spec.name == "replacement":
                if officers:
                    data[spec.name] = officers[0]
            else:
                data[spec.name] = officers
        elif spec.kind == "checks":
            chosen = [v for v in form.getlist(spec.name) if v]
            if chosen or spec.required:
                data[spec.name] = chosen
        elif spec.kind == "checkbox":
            data[spec.name] = form.get(spec.name) == "1"
        else:
            value = (form.get(spec.name) or "").strip()
            if value:
                data[spec.name] = value
            elif spec.required:
                raise FormProblem(f"请填写「{spec.label}」")
    if trigger == "recuse" and data.get("person"):
        capacity, _, person = data["person"].partition(":")
        data["capacity"], data["person"] = capacity, person
    return data
