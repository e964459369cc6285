"""The points ledger: scoring after a decided sanction, natural-year totals, 9 → suspension,
12 → termination with re-registration bans, 修复 restoration within caps, reversal when the
decision is annulled or changed. Every change is one appended ``PointsEntry``; the restrictions
the check reads are rebuilt from the whole ledger after each change (``rebuild``).

Errors are ``PointsError`` (status, code, zh, en, extra) — the API maps them to problem+json.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

from sqlalchemy import Date, String, bindparam, delete, func, select, text
from sqlalchemy.orm import Session

from fundguard_shared.outbox import utcnow
from fundguard_shared.workdays import add_months

from ..models import Person, PersonRestriction, PointsEntry, SanctionRecord
from . import announce, identity
from .config import BAND_RANGES, BANDS, RESPONSIBILITY, RESPONSIBILITY_EN, Settings, settings as make_settings

SCORABLE_STAGES = ("decided", "agreement")
PROFESSIONS = ("physician", "pharmacist", "nurse", "technician", "billing", "pharmacy_principal", "other")


class PointsError(Exception):
    def __init__(self, status: int, code: str, zh: str, en: str, **extra):
        super().__init__(en)
        self.status, self.code, self.zh, self.en, self.extra = status, code, zh, en, extra


def add_years(day: date, n: int) -> date:
    return add_months(day, 12 * n)


# ---- people ----------------------------------------------------------------------------------

def find_by_hash(session: Session, id_hash: str) -> Person | None:
    return session.execute(select(Person).where(Person.id_hash == id_hash)).scalar_one_or_none()


def register(session: Session, national_id: str, profession: str, institution_id: str | None,
             region: str | None, actor: str, on: date, reason: str = "") -> tuple[Person, bool]:
    """One record per person nationally: an existing record moves to the new institution (a
    ``move`` entry); its points come with it."""
    if profession not in PROFESSIONS:
        raise PointsError(422, "invalid_profession", "人员类别无效", "Unknown profession", allowed=list(PROFESSIONS))
    try:
        id_hash = identity.hash_person_id(national_id)
    except ValueError:
        raise PointsError(422, "invalid_national_id", "证件号码格式无效", "Invalid national identifier") from None
    person = find_by_hash(session, id_hash)
    if person is None:
        person = Person(id_hash=id_hash, profession=profession, institution_id=institution_id, region=region,
                        registered_at=utcnow())
        session.add(person)
        session.flush()
        return person, True
    if person.institution_id != institution_id:
        _append(session, person, kind="move", year=on.year, points=0, effective_on=on, actor=actor,
                institution_id=institution_id, region=region,
                reason=reason or f"执业机构变更 {person.institution_id} → {institution_id}")
        person.institution_id, person.region = institution_id, region
    person.profession = profession
    return person, False


# ---- ledger ----------------------------------------------------------------------------------

def entries(session: Session, person_id: str) -> list[PointsEntry]:
    return list(session.execute(select(PointsEntry).where(PointsEntry.person_id == person_id)
                                .order_by(PointsEntry.seq)).scalars())


def _append(session: Session, person: Person, **values) -> PointsEntry:
    seq = (session.execute(select(func.max(PointsEntry.seq)).where(PointsEntry.person_id == person.id))
           .scalar() or 0) + 1
    values.setdefault("reason", "")
    entry = PointsEntry(person_id=person.id, seq=seq, at=utcnow(), **values)
    session.add(entry)
    session.flush()
    return entry


@dataclass
class Fold:
    totals: dict[int, int] = field(default_factory=dict)
    restored: dict[int, int] = field(default_factory=dict)
    restrictions: list[dict] = field(default_factory=list)
    terminated: dict | None = None
    reversed_ids: set[int] = field(default_factory=set)


def fold(rows: list[PointsEntry], cfg: Settings) -> Fold:
    """Replay the ledger: natural-year totals and the restrictions they cause."""
    lp = cfg.legal
    suspend_at, terminate_at = lp.points_suspension_threshold.value, lp.points_termination_threshold.value
    low = int(lp.points_suspension.value.low)
    f = Fold(reversed_ids={e.reverses_id for e in rows if e.kind == "annul"})
    for e in rows:
        if e.kind == "score" and e.id not in f.reversed_ids:
            before = f.totals.get(e.year, 0)
            after = f.totals[e.year] = before + e.points
            if f.terminated is not None:
                continue
            if after >= terminate_at:
                single = e.points >= terminate_at
                ban = (lp.points_reregistration_ban_single_score if single
                       else lp.points_reregistration_ban_cumulative).value
                f.terminated = {"kind": "termination", "starts_on": e.effective_on, "ends_on": None,
                                "ban_until": add_years(e.effective_on, ban), "entry_id": e.id,
                                "needs_decision": False, "single_score": single}
                f.restrictions.append(f.terminated)
            elif before < suspend_at <= after:
                months = e.suspension_months
                f.restrictions.append({"kind": "suspension", "starts_on": e.effective_on,
                                       "ends_on": add_months(e.effective_on, months or low), "ban_until": None,
                                       "entry_id": e.id, "needs_decision": months is None})
        elif e.kind == "restore":
            f.totals[e.year] = max(0, f.totals.get(e.year, 0) + e.points)
            f.restored[e.year] = f.restored.get(e.year, 0) - e.points
        elif e.kind == "reregister" and f.terminated is not None:
            f.terminated["ends_on"] = e.effective_on
            f.terminated = None
    return f


def rebuild(session: Session, person: Person, cfg: Settings) -> Fold:
    f = fold(entries(session, person.id), cfg)
    session.execute(delete(PersonRestriction).where(PersonRestriction.person_id == person.id))
    for r in f.restrictions:
        session.add(PersonRestriction(person_id=person.id, **{k: v for k, v in r.items() if k != "single_score"}))
    session.flush()
    return f


def points_for(band: str, responsibility: str, cfg: Settings, points: int | None = None) -> int:
    if band not in BANDS:
        raise PointsError(422, "invalid_band", "记分档次无效", "Unknown band", allowed=list(BANDS))
    responsibility = RESPONSIBILITY_EN.get(responsibility, responsibility)
    if responsibility not in RESPONSIBILITY:
        raise PointsError(422, "invalid_responsibility", "责任程度无效（一般/重要/主要）",
                          "Unknown degree of responsibility", allowed=list(RESPONSIBILITY))
    if points is None:
        return cfg.points.bands.value[band][responsibility]
    lo, hi = BAND_RANGES[band]
    if not lo <= points <= hi:
        raise PointsError(422, "points_outside_band", f"分值应在 {lo}–{hi} 分之间", f"Points must be within {lo}–{hi}",
                          low=lo, high=hi)
    return points


def prepare_score(session: Session, person: Person, *, case_id: str, sanction_id: str, band: str,
                  responsibility: str, on: date, points: int | None = None, suspension_months: int | None = None,
                  cfg: Settings | None = None) -> dict:
    """Every check of a scoring, without writing: the sanction is decided and in force on the case,
    not yet scored for this person, the points are in the band, and a score that brings the
    year's total to the suspension threshold carries a suspension of 1–6 months."""
    cfg = cfg or make_settings()
    sanction = session.get(SanctionRecord, sanction_id)
    if sanction is None or sanction.case_id != case_id or not sanction.current or sanction.stage not in SCORABLE_STAGES:
        raise PointsError(422, "sanction_not_decided", "只有在机构/科室受到已生效的处理决定后才能记分",
                          "Points only follow a decided sanction in force on this case")
    rows = entries(session, person.id)
    reversed_ids = {e.reverses_id for e in rows if e.kind == "annul"}
    if any(e.kind == "score" and e.sanction_id == sanction_id and e.id not in reversed_ids for e in rows):
        raise PointsError(409, "already_scored", "该处理决定已对此人记分", "This person was already scored for this sanction")
    pts = points_for(band, responsibility, cfg, points)
    responsibility = RESPONSIBILITY_EN.get(responsibility, responsibility)
    current = fold(rows, cfg)
    lp = cfg.legal
    before = current.totals.get(on.year, 0)
    after = before + pts
    months = None
    if current.terminated is None and after < lp.points_termination_threshold.value \
            and before < lp.points_suspension_threshold.value <= after:
        rng = lp.points_suspension.value
        lo, hi = int(rng.low), int(rng.high)
        if not isinstance(suspension_months, int) or isinstance(suspension_months, bool) or not lo <= suspension_months <= hi:
            raise PointsError(422, "suspension_months_required",
                              f"本次记分后年度累计达到 {after} 分，应暂停医保支付资格，请在 {lo}–{hi} 个月内确定期限",
                              f"This score brings the year's total to {after}: choose a suspension of {lo}–{hi} months",
                              low=lo, high=hi, year_total=after)
        months = suspension_months
    from ..models import Case
    return {"points": pts, "responsibility": responsibility, "suspension_months": months,
            "case": session.get(Case, case_id), "year_total": after}


def score(session: Session, person: Person, *, case_id: str, sanction_id: str, band: str, responsibility: str,
          on: date, actor: str, reason: str = "", points: int | None = None, suspension_months: int | None = None,
          cfg: Settings | None = None, cause: str | None = None, announce_extra: dict | None = None) -> PointsEntry:
    """记分 after a decided sanction on the institution/department of ``case_id`` (the procedure
    — notice, defence, waiver — is ``procedure``'s; this is the ledger write)."""
    cfg = cfg or make_settings()
    p = prepare_score(session, person, case_id=case_id, sanction_id=sanction_id, band=band,
                      responsibility=responsibility, on=on, points=points, suspension_months=suspension_months, cfg=cfg)
    case = p["case"]
    entry = _append(session, person, kind="score", year=on.year, points=p["points"], effective_on=on, case_id=case_id,
                    sanction_id=sanction_id, band=band, responsibility=p["responsibility"],
                    suspension_months=p["suspension_months"], institution_id=case.institution_id, region=case.region,
                    actor=actor, reason=reason, cause=cause)
    _changed(session, person, entry, "points.scored", actor, on, cfg, case_number=case.number,
             **(announce_extra or {}))
    return entry


def _changed(session: Session, person: Person, entry: PointsEntry, event_type: str, actor: str, on: date,
             cfg: Settings, **extra) -> Fold:
    """After an entry: rebuild the restrictions, announce the entry and any change of restriction."""
    f = rebuild(session, person, cfg)
    extra.setdefault("region", entry.region or person.region)
    announce.emit_person(session, event_type, person, actor, case_id=entry.case_id, sanction_id=entry.sanction_id,
                         points=entry.points, year=entry.year, year_points=f.totals.get(entry.year, 0),
                         activity=entry.activity, effective_on=entry.effective_on, reason=entry.reason or None,
                         **extra)
    announce.sync_person(session, person, on, actor)
    return f


def restore(session: Session, person: Person, *, activity: str, on: date, actor: str, reason: str = "",
            cfg: Settings | None = None) -> PointsEntry:
    """修复: a configured activity reduces this year's points, within the yearly cap."""
    cfg = cfg or make_settings()
    table = cfg.points.restoration_activities.value
    if activity not in table:
        raise PointsError(422, "invalid_activity", "修复活动无效", "Unknown restoration activity", allowed=sorted(table))
    current = fold(entries(session, person.id), cfg)
    if current.terminated is not None and not cfg.points.restoration_lifts_termination.value:
        raise PointsError(422, "terminated", "医保支付资格已终止，不能通过修复减分",
                          "Payment qualification terminated: restoration does not apply")
    cap = cfg.points.restoration_cap_per_year.value
    used = current.restored.get(on.year, 0)
    total = current.totals.get(on.year, 0)
    allowed = min(table[activity], cap - used, total)
    if allowed <= 0:
        code = "restoration_cap_reached" if used >= cap else "no_points_to_restore"
        raise PointsError(422, code, f"本年度修复已达上限 {cap} 分或无可修复分值",
                          f"Restoration cap of {cap} reached this year, or no points to restore",
                          cap=cap, used=used, year_total=total)
    entry = _append(session, person, kind="restore", year=on.year, points=-allowed, effective_on=on,
                    activity=activity, actor=actor, reason=reason)
    _changed(session, person, entry, "points.restored", actor, on, cfg)
    return entry


def reregister(session: Session, person: Person, *, on: date, actor: str, reason: str = "",
               cfg: Settings | None = None) -> PointsEntry:
    cfg = cfg or make_settings()
    current = fold(entries(session, person.id), cfg)
    if current.terminated is None:
        raise PointsError(409, "not_terminated", "该人员医保支付资格未被终止", "Not terminated")
    if on < current.terminated["ban_until"]:
        raise PointsError(422, "reregistration_banned", f"{current.terminated['ban_until']} 前不得重新登记",
                          f"Re-registration banned until {current.terminated['ban_until']}",
                          ban_until=current.terminated["ban_until"].isoformat())
    entry = _append(session, person, kind="reregister", year=on.year, points=0, effective_on=on, actor=actor,
                    reason=reason)
    _changed(session, person, entry, "points.reregistered", actor, on, cfg)
    return entry


# ---- decisions annulled or changed -------------------------------------------------------------

def reverse_sanction(session: Session, sanction_id: str, *, cause: str, on: date, actor: str,
                     cfg: Settings | None = None) -> list[PointsEntry]:
    """The decision behind these points is no longer in force: every score linked to it is
    reversed (an ``annul`` entry), and the person's restrictions are rebuilt."""
    cfg = cfg or make_settings()
    scored = list(session.execute(select(PointsEntry).where(PointsEntry.sanction_id == sanction_id,
                                                            PointsEntry.kind == "score")).scalars())
    out = []
    for e in scored:
        person = session.get(Person, e.person_id)
        rows = entries(session, person.id)
        if any(r.kind == "annul" and r.reverses_id == e.id for r in rows):
            continue
        out.append(_append(session, person, kind="annul", year=e.year, points=-e.points, effective_on=on,
                           case_id=e.case_id, sanction_id=sanction_id, reverses_id=e.id, cause=cause, actor=actor,
                           institution_id=e.institution_id, region=e.region,
                           reason="处理决定被撤销或变更，记分随之撤销" if cause != "appeal_changed"
                           else "处理决定被变更，原记分撤销"))
        _changed(session, person, out[-1], "points.reversed", actor, on, cfg, outcome=cause)
    return out


def carry_to_changed(session: Session, new_sanction: SanctionRecord, *, on: date, actor: str,
                     cfg: Settings | None = None) -> list[PointsEntry]:
    """A changed decision keeps the points for the sanctions that remain: scores reversed with
    cause ``appeal_changed`` in the same case whose sanction was of the same kind are re-entered
    against the new sanction (same band, responsibility, points, suspension months)."""
    cfg = cfg or make_settings()
    reversals = list(session.execute(select(PointsEntry).where(PointsEntry.case_id == new_sanction.case_id,
                                                               PointsEntry.kind == "annul",
                                                               PointsEntry.cause == "appeal_changed")).scalars())
    out = []
    for rev in reversals:
        orig = session.get(PointsEntry, rev.reverses_id)
        old = session.get(SanctionRecord, orig.sanction_id)
        if old is None or old.kind != new_sanction.kind:
            continue
        person = session.get(Person, orig.person_id)
        rows = entries(session, person.id)
        if any(r.kind == "score" and r.cause == f"carried:{orig.id}" for r in rows):
            continue
        out.append(_append(session, person, kind="score", year=orig.year, points=orig.points,
                           effective_on=orig.effective_on, case_id=orig.case_id, sanction_id=new_sanction.id,
                           band=orig.band, responsibility=orig.responsibility,
                           suspension_months=orig.suspension_months, cause=f"carried:{orig.id}",
                           institution_id=orig.institution_id, region=orig.region, actor=actor,
                           reason="处理决定被变更，记分转至变更后的决定"))
        _changed(session, person, out[-1], "points.scored", actor, on, cfg, outcome="carried")
    return out


# ---- the check ---------------------------------------------------------------------------------

CHECK_SQL = text(
    "SELECT p.id, r.kind, r.ends_on, r.ban_until FROM persons p "
    "LEFT JOIN person_restrictions r ON r.person_id = p.id AND r.starts_on <= :d "
    "AND (r.ends_on IS NULL OR r.ends_on > :d) WHERE p.id_hash = :h").bindparams(
    bindparam("d", type_=Date), bindparam("h", type_=String))


_RAW_SQL = ("SELECT p.id, r.kind, r.ends_on, r.ban_until FROM persons p "
            "LEFT JOIN person_restrictions r ON r.person_id = p.id AND r.starts_on <= {d} "
            "AND (r.ends_on IS NULL OR r.ends_on > {d}) WHERE p.id_hash = {h}")
_PLACEHOLDERS = {"qmark": ("?", "?"), "format": ("%s", "%s"), "pyformat": ("%(d)s", "%(h)s"),
                 "named": (":d", ":h"), "numeric": (":1", ":2")}


def _raw_sql(paramstyle: str) -> str:
    d, h = _PLACEHOLDERS[paramstyle]
    return _RAW_SQL.format(d=d, h=h)


def check_raw(dbapi_conn, paramstyle: str, id_hash: str, on: date, emergency: bool = False) -> dict:
    """``check`` on a plain DB-API connection (the hot path of the check endpoint: no SQL
    compilation, no result-proxy layer). SQLite stores dates as ISO text, PostgreSQL as dates."""
    if paramstyle in ("qmark", "format"):
        params = (on.isoformat(), on.isoformat(), id_hash) if paramstyle == "qmark" else (on, on, id_hash)
    elif paramstyle == "numeric":
        params = (on.isoformat(), id_hash)
    else:
        params = {"d": on, "h": id_hash}
    cur = dbapi_conn.cursor()
    try:
        cur.execute(_raw_sql(paramstyle), params)
        rows = cur.fetchall()
    finally:
        cur.close()
    return verdict(rows, emergency)


def check(conn, id_hash: str, on: date, emergency: bool = False) -> dict:
    """May the person with this hashed identifier bill the fund on ``on``? One indexed query.
    Emergency care (急救/抢救) is exempt: billable, with the underlying restriction reported."""
    return verdict(conn.execute(CHECK_SQL, {"h": id_hash, "d": on}).all(), emergency)


def verdict(rows, emergency: bool = False) -> dict:
    """The check's answer from the rows of ``CHECK_SQL`` (person id, restriction kind, ends, ban)."""
    if not rows:
        return {"may_bill": True, "reason": "no_record", "person_id": None, "suspended_until": None,
                "terminated": False, "reregistration_from": None, "emergency_exempt": False}
    person_id = rows[0][0]
    term = next((r for r in rows if r[1] == "termination"), None)
    susp = next((r for r in rows if r[1] == "suspension"), None)
    if term is None and susp is None:
        return {"may_bill": True, "reason": "ok", "person_id": person_id, "suspended_until": None,
                "terminated": False, "reregistration_from": None, "emergency_exempt": False}
    reason = "terminated" if term is not None else "suspended"
    until = susp[2] if susp is not None else None
    return {"may_bill": emergency, "reason": reason, "person_id": person_id,
            "suspended_until": str(until) if until is not None else None,
            "terminated": term is not None,
            "reregistration_from": str(term[3]) if term is not None and term[3] is not None else None,
            "emergency_exempt": emergency}


def status(session: Session, person: Person, on: date, cfg: Settings | None = None) -> dict:
    cfg = cfg or make_settings()
    rows = entries(session, person.id)
    f = fold(rows, cfg)
    return {"person_id": person.id, "year": on.year, "year_points": f.totals.get(on.year, 0),
            "restored_this_year": f.restored.get(on.year, 0),
            "totals": {str(y): t for y, t in sorted(f.totals.items())},
            "restrictions": [{k: (v.isoformat() if isinstance(v, date) else v) for k, v in r.items()}
                             for r in f.restrictions],
            "check": check(session, person.id_hash, on), "entries": rows}
