"""Violation types shared by inspection (findings) and cases (sanctions): the legal article
each one falls under. Labels are what users read; keys are stable identifiers."""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ViolationType:
    key: str
    article: str          # sanction catalogue key in services/cases rules
    label_zh: str
    basis_zh: str


VIOLATION_TYPES: dict[str, ViolationType] = {v.key: v for v in (
    ViolationType("split_admission", "38", "分解住院、挂床住院", "《医疗保障基金使用监督管理条例》第三十八条第（一）项"),
    ViolationType("over_treatment", "38", "过度诊疗、过度检查、分解处方、超量开药、重复开药", "条例第三十八条第（二）项"),
    ViolationType("duplicate_charging", "38", "重复收费、超标准收费、分解项目收费", "条例第三十八条第（三）项"),
    ViolationType("substitution", "38", "串换药品、医用耗材、诊疗项目和服务设施", "条例第三十八条第（四）项"),
    ViolationType("resale_assist", "38", "为参保人员利用其享受医保待遇的机会转卖药品提供帮助", "条例第三十八条第（五）项"),
    ViolationType("non_covered_billing", "38", "将不属于医保基金支付范围的费用纳入结算", "条例第三十八条第（六）项"),
    ViolationType("drg_upcoding", "38", "DRG/DIP 高套、低编病组或编码", "条例第三十八条第（七）项；实施细则第二十三条"),
    ViolationType("other_loss", "38", "其他造成医保基金损失的违法行为", "条例第三十八条第（七）项"),
    ViolationType("records_management", "39", "未按规定保管财务账目、处方、病历、进销存记录等", "条例第三十九条"),
    ViolationType("traceability_code", "39", "未按规定使用药品耗材追溯码", "条例第三十九条第（三）项；实施细则第二十四条"),
    ViolationType("refuse_inspection", "39", "拒绝监督检查或提供虚假情况", "条例第三十九条"),
    ViolationType("fraud", "40", "以骗取医保基金为目的的欺诈骗保行为", "条例第四十条"),
    ViolationType("fictitious_service", "40", "虚构医药服务项目", "条例第四十条第（三）项"),
    ViolationType("forged_records", "40", "伪造、变造、隐匿、涂改、销毁医学文书等资料", "条例第四十条第（二）项"),
    ViolationType("individual_misuse", "41_1", "个人出借医保凭证、重复享受待遇、转卖药品", "条例第四十一条第一款"),
    ViolationType("individual_fraud", "41_2", "个人以骗取医保基金为目的的违法行为", "条例第四十一条第二款"),
)}
