"""Property tests of the claim gate (G-06, G-08, G-14) over random records (CCM, sometimes RPM
beside it) and random claims: no accepted set of claims for a patient-period bills more units
of any code than the record supported before them (nor more than the worklist offered), and
cutting a claim into lines, or its lines into several claims, never changes what is accepted.
Each example runs on a fresh in-memory ledger; the runs are derandomized (reproducible)."""

from __future__ import annotations

import contextlib
import itertools
from collections import Counter
from collections.abc import Iterable, Sequence
from datetime import date, datetime, timedelta
from decimal import Decimal

from hypothesis import HealthCheck, Phase, event, given, note, settings, strategies as st

from adapters import batch
from adapters.store import MAPPER_TOPIC
from domain import facts as f
from domain.catalog import DEFAULT_FEES
from domain.claim_records import DevicePeriod
from domain.ledger import Ledger
from domain.reasons import Refused
from domain.rules import gate
from domain.rules.assess import assess
from domain.rules.codes import allowance
from domain.rules.view import MonthView
from tests.conftest import Clock
from tests.factories import EST, NPI, OTHER_NPI, claim, consent, enrolled, visit

PID, MONTH = "P1", "2026-03"
# Codes of a program billed together, base first: one tier of CCM a month (L-02); RPM's
# device, setup and management codes are each their own.
CCM_TIERS = (("99490", "99439"), ("99491", "99437"), ("99487", "99489"))
RPM_GROUPS = (("99453",), ("99445",), ("99454",), ("99470",), ("99457", "99458"), ("99091",))
CCM_CODES = tuple(code for codes in CCM_TIERS for code in codes)
RPM_CODES = tuple(code for codes in RPM_GROUPS for code in codes)
CODES = CCM_CODES + RPM_CODES
TIER_OF = {code: codes[0] for codes in CCM_TIERS for code in codes}
STAFF_OF = {f.StaffRole.CLINICAL_STAFF: "RN-1", f.StaffRole.PHYSICIAN: "DR-1"}
PROPERTY = settings(
    max_examples=100,
    deadline=None,
    derandomize=True,  # the same examples on every run: CI is reproducible
    database=None,
    phases=[Phase.explicit, Phase.generate, Phase.shrink],  # no explain phase: a failure reports sooner
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

Record = list[f.Fact]
Units = Counter[str]


# --- strategies ---------------------------------------------------------------------------


@st.composite
def time_entries(draw: st.DrawFn, program: f.Program, hour: int, most: int) -> list[f.TimeLogged]:
    """0..`most` entries of 1..60 minutes by staff or the physician, one a day at `hour`
    (never overlapping), now and then face-to-face time that never counts (G-04)."""
    days = sorted(draw(st.sets(st.integers(1, 31), max_size=most)))
    return [
        f.TimeLogged(
            entry_id=f"T-{program}-{n}",
            patient_id=PID,
            program=program,
            staff_id=STAFF_OF[role := draw(st.sampled_from(list(STAFF_OF)))],
            staff_role=role,
            activity="care management",
            started_at=datetime(2026, 3, day, hour, 0, tzinfo=EST),
            minutes=draw(st.integers(1, 60)),
            interactive=draw(st.booleans()),
            face_to_face=draw(st.integers(0, 9)) == 0,
        )
        for n, day in enumerate(days)
    ]


@st.composite
def rpm(draw: st.DrawFn) -> Record:
    """RPM beside CCM (L-08): consent, a device set up in March, days with data, minutes."""
    setup = draw(st.integers(1, 12))
    days = sorted(draw(st.randoms(use_true_random=False)).sample(range(setup, 32), draw(st.integers(0, 32 - setup))))
    return [
        consent(f.Program.RPM, PID),
        f.DeviceSetup(
            patient_id=PID,
            device_id="BP-1",
            program=f.DeviceProgram.RPM,
            category=f.DeviceCategory.PHYSIOLOGIC,
            setup_on=date(2026, 3, setup),
        ),
        *(f.DataTransmitted(patient_id=PID, device_id="BP-1", transmitted_on=date(2026, 3, d)) for d in days),
        *draw(time_entries(f.Program.RPM, 14, 3)),
    ]


@st.composite
def records(draw: st.DrawFn) -> Record:
    """A patient enrolled for CCM with a random March 2026: minutes, maybe an MDM, maybe a
    substantial care plan revision (99487 needs both), maybe a second practitioner's
    initiating visit (recent or stale), maybe RPM."""
    record: Record = [*enrolled(PID), *draw(time_entries(f.Program.CCM, 10, 6))]
    if draw(st.booleans()):
        level = draw(st.sampled_from([f.MdmLevel.LOW, f.MdmLevel.MODERATE, f.MdmLevel.HIGH]))
        record.append(
            f.MedicalDecisionMaking(patient_id=PID, month=MONTH, level=level, by="DR-1", decided_on=date(2026, 3, 3))
        )
    if draw(st.booleans()):
        record.append(
            f.CarePlanRevised(
                patient_id=PID, plan_id=f"CP-{PID}-CCM", revised_on=date(2026, 3, 4), by="DR-1", substantial=True
            )
        )
    if draw(st.booleans()):
        on = draw(st.sampled_from([date(2024, 6, 3), date(2025, 12, 1), date(2026, 2, 2), date(2026, 3, 20)]))
        record.append(visit("V-OTHER", PID, provider_npi=OTHER_NPI, visit_on=on))
    if draw(st.booleans()):
        record += draw(rpm())
    return record


@st.composite
def random_lines(draw: st.DrawFn, codes: Sequence[str]) -> list[tuple[str, int]]:
    """1..6 lines of any of `codes`, x1..3 each."""
    return draw(st.lists(st.tuples(st.sampled_from(codes), st.integers(1, 3)), min_size=1, max_size=6))


@st.composite
def likely_lines(draw: st.DrawFn, codes: Sequence[str]) -> list[tuple[str, int]]:
    """Lines a biller might send (a base x1 and its add-on x0..3 per group, now and then a
    stray code), cut into 1..6 lines of 1..3 units: often accepted, so the bounds are tested."""
    groups = [g for g in (*CCM_TIERS, *RPM_GROUPS) if g[0] in codes]
    units: Units = Counter()
    for group in draw(st.lists(st.sampled_from(groups), min_size=1, max_size=3, unique=True)):
        if draw(st.integers(0, 4)):
            units[group[0]] = 1
        for addon in group[1:]:
            units[addon] = draw(st.sampled_from([0, 1, 1, 2, 3]))
    if not draw(st.integers(0, 3)):
        code = draw(st.sampled_from(codes))
        units[code] = min(3, units[code] + draw(st.integers(1, 3)))
    units = +units or Counter({groups[0][0]: 1})
    lines = draw(regrouped(units, 3))
    return lines if len(lines) <= 6 else list(units.items())


@st.composite
def near_lines(draw: st.DrawFn, codes: Sequence[str], allowed: dict[str, int]) -> list[tuple[str, int]]:
    """Lines at the edge of what the record supports: per chosen group (mostly of those it
    supports), each code's supported units, or one less or one more, cut into 1..6 lines."""
    groups = [g for g in (*CCM_TIERS, *RPM_GROUPS) if g[0] in codes]
    billable = [g for g in groups if allowed[g[0]]]
    pool = billable if billable and draw(st.integers(0, 4)) > 0 else groups
    units: Units = Counter()
    for group in draw(st.lists(st.sampled_from(pool), min_size=1, max_size=2, unique=True)):
        for code in group:
            units[code] = max(0, allowed[code] + draw(st.sampled_from([0, 0, 0, 0, 0, 0, -1, 1])))
    units = +units or Counter({draw(st.sampled_from(codes)): 1})
    lines = draw(regrouped(units, 3))
    return lines if len(lines) <= 6 else list(units.items())


@st.composite
def claim_lists(
    draw: st.DrawFn,
    codes: Sequence[str],
    allowed: dict[str, dict[str, int]] | None = None,
    max_size: int = 4,
    prefix: str = "C",
) -> list[f.ClaimSubmitted]:
    """1..`max_size` claims for March with unique ids, billed mostly by NPI, sometimes by
    another: random lines, likely lines, and (given what the record supports) lines at its edge."""
    out = []
    for n in range(draw(st.integers(1, max_size))):
        npi = draw(st.sampled_from([NPI, NPI, NPI, OTHER_NPI]))
        kinds = [likely_lines(codes), random_lines(codes)]
        if allowed is not None:
            kinds = [near_lines(codes, allowed[npi]), *kinds, near_lines(codes, allowed[npi])]
        out.append(made(f"{prefix}{n}", npi, draw(st.one_of(kinds))))
    return out


@st.composite
def pieces_of(draw: st.DrawFn, whole: f.ClaimSubmitted, cuts: int = 4) -> list[f.ClaimSubmitted]:
    """`whole`'s unit lines dealt at random into 1..`cuts` claims (ids W0, W1, ...), each cut
    into lines at random."""
    n = draw(st.integers(1, cuts))
    dealt: list[Units] = [Counter() for _ in range(n)]
    for code, _ in draw(st.permutations(unit_lines(units_of([whole])))):
        dealt[draw(st.integers(0, n - 1))][code] += 1
    npi = whole.billing_provider_npi
    return [made(f"{whole.claim_id}{k}", npi, draw(regrouped(u))) for k, u in enumerate(u for u in dealt if u)]


def codes_of(record: Record) -> tuple[str, ...]:
    """The codes claims are drawn from: CCM's, and RPM's when the record has a device."""
    return CODES if any(isinstance(x, f.DeviceSetup) for x in record) else CCM_CODES


@st.composite
def regrouped(draw: st.DrawFn, units: Units, most: int = 99) -> list[tuple[str, int]]:
    """The same units per code, cut into lines of random sizes (at most `most`), in random order."""
    lines: list[tuple[str, int]] = []
    for code, n in units.items():
        left = n
        while left:
            part = draw(st.integers(1, min(left, most)))
            lines.append((code, part))
            left -= part
    return list(draw(st.permutations(lines)))


# --- helpers ------------------------------------------------------------------------------


def made(claim_id: str, npi: str, lines: Iterable[tuple[str, int]]) -> f.ClaimSubmitted:
    return claim(
        claim_id,
        PID,
        billing_provider_npi=npi,
        lines=[f.ClaimLine(code=code, units=units) for code, units in lines],
        service_month=MONTH,
    )


def fresh(record: Iterable[f.Fact], claims: Iterable[f.ClaimSubmitted] = ()) -> Ledger:
    """An in-memory ledger holding `record`, then whichever of `claims` it accepts."""
    ledger = Ledger({"PERSISTENCE_MODULE": "eventsourcing.popo", "MAPPER_TOPIC": MAPPER_TOPIC}, clock=Clock())
    add(ledger, record)
    for c in claims:
        outcome(ledger, c)
    return ledger


def add(ledger: Ledger, record: Iterable[f.Fact]) -> None:
    """Record facts in one batch, as bulk ingest does (much faster than one by one); none refused."""
    judged = batch.judge(ledger, list(record))
    assert judged is not None and not any(isinstance(d, Refused) for d in judged.decided), judged and judged.decided
    batch.write(ledger, judged)


def outcome(ledger: Ledger, c: f.ClaimSubmitted) -> list[str]:
    """Record a claim: [] when accepted, else its sorted reason codes."""
    try:
        ledger.record(c)
    except Refused as e:
        return sorted(r.code.value for r in e.reasons)
    return []


def described(record: Iterable[f.Fact], claims: Iterable[f.ClaimSubmitted] = ()) -> str:
    """The record beyond enrolled(PID), and the claims, briefly (hypothesis prints facts as blanks)."""
    base = enrolled(PID)
    out, days = [], []
    for x in record:
        match x:
            case f.TimeLogged():
                extra = " face-to-face" if x.face_to_face else ""
                out.append(f"{x.program} {x.started_at:%m-%d} {x.staff_role} {x.minutes} min{extra}")
            case f.DataTransmitted():
                days.append(f"{x.transmitted_on:%m-%d}")
            case f.MedicalDecisionMaking():
                out.append(f"MDM {x.level} for {x.month}")
            case f.CarePlanRevised():
                out.append(f"care plan revised {x.revised_on} (substantial: {x.substantial})")
            case f.InitiatingVisitRecorded() if x not in base:
                out.append(f"initiating visit by {x.provider_npi} on {x.visit_on}")
            case f.ConsentRecorded() if x not in base:
                out.append(f"{x.program} consent")
            case f.DeviceSetup():
                out.append(f"{x.program} device set up {x.setup_on}")
            case _ if x not in base:
                out.append(repr(x))
    if days:
        out.append(f"days with data: {' '.join(days)}")
    for c in claims:
        when = c.service_month or c.service_on
        out.append(f"claim {c.claim_id} by {c.billing_provider_npi} for {when}: {[(x.code, x.units) for x in c.lines]}")
    return "\n".join(out)


def view_of(ledger: Ledger, month: str = MONTH) -> MonthView:
    view = ledger.month_view(PID, month)
    assert view is not None
    return view


def supported(view: MonthView) -> dict[str, dict[str, int]]:
    """Per billing NPI, the units of each code the record supports (0 while blocked)."""
    out: dict[str, dict[str, int]] = {}
    for npi in (NPI, OTHER_NPI):
        out[npi] = {}
        for code in CODES:
            spec = view.rules.spec(code)
            assert spec is not None
            out[npi][code] = allowance(spec, view, npi).units
    return out


def units_of(claims: Iterable[f.ClaimSubmitted]) -> Units:
    units: Units = Counter()
    for c in claims:
        for line in c.lines:
            units[line.code] += line.units
    return units


def value_of(units: Units) -> Decimal:
    return sum((DEFAULT_FEES.fee(code) * n for code, n in units.items()), Decimal(0))


def unit_lines(units: Units) -> list[tuple[str, int]]:
    return [(code, 1) for code, n in units.items() for _ in range(n)]


def judged(c: f.ClaimSubmitted, view: MonthView) -> tuple[list[str], dict[str, int], Units, set[object]]:
    """What the gate decides about `c`, unrecorded: reason codes, units allowed, lines, evidence."""
    j = gate.judge(c, view, Clock()())
    lines: Units = Counter()
    for line in j.lines:
        lines[line.code] += line.units
    return sorted(r.code.value for r in j.reasons), dict(j.verdict.allowed), lines, set(j.verdict.stood_on)


# --- properties ---------------------------------------------------------------------------


@st.composite
def record_and_claims(draw: st.DrawFn) -> tuple[Record, list[f.ClaimSubmitted]]:
    record = draw(records())
    codes, allowed = codes_of(record), supported(view_of(fresh(record)))
    if draw(st.booleans()):
        return record, draw(claim_lists(codes, allowed))
    # Pieces of one claim at the edge of support, and maybe another claim after them.
    whole = draw(claim_lists(codes, allowed, max_size=1, prefix="W"))[0]
    more = draw(claim_lists(codes, allowed, max_size=1, prefix="Z")) if draw(st.booleans()) else []
    return record, draw(pieces_of(whole, 3)) + more


@PROPERTY
@given(case=record_and_claims())
def test_accepted_claims_never_bill_more_than_the_record_supports(case: tuple[Record, list[f.ClaimSubmitted]]) -> None:
    """G-06, G-08, G-14: accepted units never exceed what the record and the worklist offered before any claim."""
    record, claims = case
    note(described(record, claims))
    ledger = fresh(record)
    view = view_of(ledger)
    allowed = supported(view)
    offered = Decimal(assess(view, DEFAULT_FEES).estimated_total)
    accepted = [c for c in claims if not outcome(ledger, c)]
    event(f"accepted {len(accepted)} of {len(claims)} claims")
    note(f"accepted {[c.claim_id for c in accepted]}; supported {allowed}; the worklist offered {offered}")

    live = sorted(c.submitted.claim_id for c in view_of(ledger).live_claims())
    assert live == sorted(c.claim_id for c in accepted)
    units = units_of(accepted)
    for program, codes in (("CCM", CCM_CODES), ("RPM", RPM_CODES)):  # G-07: one billing practitioner
        npis = {c.billing_provider_npi for c in accepted if any(x.code in codes for x in c.lines)}
        assert len(npis) <= 1, f"{program} billed by two practitioners: {npis}"
    tiers = {TIER_OF[code] for code in units if code in TIER_OF}
    assert len(tiers) <= 1, f"accepted claims mix CCM tiers: {dict(units)}"  # L-02
    over = {
        (c.billing_provider_npi, code): (n, allowed[c.billing_provider_npi][code])
        for c in accepted
        for code in units_of([c])
        if (n := units[code]) > allowed[c.billing_provider_npi][code]
    }
    assert not over, f"accepted units over what the record supports, (npi, code): (claimed, supported): {over}"
    assert value_of(units) <= offered, f"accepted {dict(units)} worth {value_of(units)}; the worklist offered {offered}"


Settle = tuple[str, int]  # what the payer and the biller do next, to the claim at an index


@st.composite
def record_claims_settlements(draw: st.DrawFn) -> tuple[Record, list[tuple[f.ClaimSubmitted, Settle | None]]]:
    record, claims = draw(record_and_claims())
    kinds = st.sampled_from(["void", "paid-void", "paid-void-reversed", "denied-void", "reversed"])
    steps = [(c, draw(st.none() | st.tuples(kinds, st.integers(0, n)))) for n, c in enumerate(claims)]
    return record, steps


def settle(ledger: Ledger, claim_id: str, kind: str) -> None:
    """Adjudicate and void a claim as `kind` says; what the ledger refuses is left undone."""
    paid = f.ClaimAdjudicated(claim_id=claim_id, outcome=f.ClaimOutcome.PAID, paid_amount=Decimal("50"))
    denied = f.ClaimAdjudicated(claim_id=claim_id, outcome=f.ClaimOutcome.DENIED, paid_amount=Decimal("0"))
    reversed_ = f.ClaimAdjudicated(claim_id=claim_id, outcome=f.ClaimOutcome.REVERSED, paid_amount=Decimal("0"))
    void = f.ClaimVoided(claim_id=claim_id, reason="keyed in error", by="BILLER-1")
    plan: dict[str, list[f.Fact]] = {
        "void": [void],
        "paid-void": [paid, void],  # a request to the payer: the claim still stands
        "paid-void-reversed": [paid, void, reversed_],
        "denied-void": [denied, void],
        "reversed": [paid, reversed_],
    }
    for fact in plan[kind]:
        with contextlib.suppress(Refused):
            ledger.record(fact)


@PROPERTY
@given(case=record_claims_settlements())
def test_claims_standing_after_voids_and_reversals_never_bill_more_than_the_record_supports(
    case: tuple[Record, list[tuple[f.ClaimSubmitted, Settle | None]]],
) -> None:
    """G-06, G-08, G-14: with voids and payer reversals freeing codes between claims, live claims stay in support."""
    record, steps = case
    note(described(record, [c for c, _ in steps]))
    note(f"then: {[then for _, then in steps]}")
    ledger = fresh(record)
    view = view_of(ledger)
    allowed = supported(view)
    offered = Decimal(assess(view, DEFAULT_FEES).estimated_total)
    accepted: dict[str, f.ClaimSubmitted] = {}
    for c, then in steps:
        if not outcome(ledger, c):
            accepted[c.claim_id] = c
        if then is not None:
            settle(ledger, steps[then[1]][0].claim_id, then[0])

    live = [accepted[c.submitted.claim_id] for c in view_of(ledger).live_claims()]
    event(f"{len(accepted)} accepted, {len(live)} standing")
    note(f"accepted {list(accepted)}, standing {[c.claim_id for c in live]}; supported {allowed}; offered {offered}")
    units = units_of(live)
    for program, codes in (("CCM", CCM_CODES), ("RPM", RPM_CODES)):
        npis = {c.billing_provider_npi for c in live if any(x.code in codes for x in c.lines)}
        assert len(npis) <= 1, f"{program} billed by two practitioners: {npis}"  # G-07
    assert len({TIER_OF[code] for code in units if code in TIER_OF}) <= 1, dict(units)  # L-02
    over = {
        (c.billing_provider_npi, code): (units[code], allowed[c.billing_provider_npi][code])
        for c in live
        for code in units_of([c])
        if units[code] > allowed[c.billing_provider_npi][code]
    }
    assert not over, f"standing units over what the record supports, (npi, code): (claimed, supported): {over}"
    assert value_of(units) <= offered, f"standing {dict(units)} worth {value_of(units)}; the worklist offered {offered}"


@st.composite
def record_earlier_claim(draw: st.DrawFn) -> tuple[Record, list[f.ClaimSubmitted], f.ClaimSubmitted]:
    record = draw(records())
    codes, allowed = codes_of(record), supported(view_of(fresh(record)))
    earlier = draw(claim_lists(codes, allowed, max_size=2, prefix="E")) if draw(st.booleans()) else []
    return record, earlier, draw(claim_lists(codes, allowed, max_size=1, prefix="X"))[0]


@PROPERTY
@given(case=record_earlier_claim(), data=st.data())
def test_cutting_a_claim_into_lines_never_changes_the_verdict(
    case: tuple[Record, list[f.ClaimSubmitted], f.ClaimSubmitted], data: st.DataObject
) -> None:
    """G-06, G-08, G-14: a claim split into unit lines, regrouped or merged per code gets the same verdict."""
    record, earlier, c = case
    note(described(record, [*earlier, c]))
    units = units_of([c])
    npi = c.billing_provider_npi
    split = made(c.claim_id, npi, data.draw(st.permutations(unit_lines(units)), label="split"))
    cut = made(c.claim_id, npi, data.draw(regrouped(units), label="regrouped"))
    merged = made(c.claim_id, npi, units.items())

    note(described([], [split, cut, merged]))
    view = view_of(fresh(record, earlier))
    verdicts = [judged(x, view) for x in (c, split, cut, merged)]
    assert all(v == verdicts[0] for v in verdicts), verdicts
    assert verdicts[0][2] == units

    split_outcome = outcome(fresh(record, earlier), split)
    merged_outcome = outcome(fresh(record, earlier), merged)
    assert split_outcome == merged_outcome == verdicts[0][0]
    event("accepted" if not split_outcome else "refused")


@st.composite
def whole_and_pieces(draw: st.DrawFn) -> tuple[Record, f.ClaimSubmitted, list[f.ClaimSubmitted]]:
    """A record; the claim the worklist offers for it (now and then, or when it offers none,
    a random claim); and that claim's unit lines dealt at random into 1..4 claims, each cut
    into lines at random."""
    record = draw(records())
    view = view_of(fresh(record))
    row = assess(view, DEFAULT_FEES)
    offered = [(b.code, b.units) for b in row.billable]
    if offered and draw(st.integers(0, 4)) > 0:
        whole = made("W", row.billing_provider_npi or NPI, offered)  # the worklist's offer
    else:
        whole = draw(claim_lists(codes_of(record), supported(view), max_size=1, prefix="X"))[0]
    return record, whole, draw(pieces_of(whole))


@PROPERTY
@given(case=whole_and_pieces())
def test_claims_cut_from_one_claim_never_bill_more_than_it(
    case: tuple[Record, f.ClaimSubmitted, list[f.ClaimSubmitted]],
) -> None:
    """G-06, G-08, G-14: claims cutting one claim's lines never get more units accepted than it or the record."""
    record, whole, pieces = case
    note(described(record, [whole, *pieces]))
    ledger = fresh(record)
    allowed = supported(view_of(ledger))[whole.billing_provider_npi]
    accepted = [p for p in pieces if not outcome(ledger, p)]
    units, bound = units_of(accepted), units_of([whole])
    event(f"{'offered' if whole.claim_id == 'W' else 'random'}: {len(accepted)} of {len(pieces)} pieces accepted")

    assert all(n <= bound[code] for code, n in units.items()), (dict(units), dict(bound))
    over = {code: (n, allowed[code]) for code, n in units.items() if n > allowed[code]}
    assert not over, f"accepted units over what the record supports, code: (claimed, supported): {over}"
    if whole.claim_id == "W":  # the worklist's offer is itself accepted whole
        assert outcome(fresh(record), whole) == []


# --- device periods across calendar months ------------------------------------------------

DEVICE_CODES = ("99453", "99445", "99454")
FIRST_DAY, LAST_DAY = date(2026, 2, 1), date(2026, 4, 14)  # the clock is 2026-04-15


def transmitted(days: Iterable[date]) -> list[f.DataTransmitted]:
    return [f.DataTransmitted(patient_id=PID, device_id="BP-1", transmitted_on=d) for d in days]


PERIODS = st.sampled_from([0, 0, 1, 2])  # which 30-day period from the setup (the first most)


@st.composite
def device_days(draw: st.DrawFn, start: date, period: int, counts: Sequence[int]) -> list[date]:
    """Days with data in the `period`th 30-day period from `start` (to LAST_DAY), as many as
    one of `counts` (about: 2-15 days bill 99445, 16 or more 99454)."""
    first = start + timedelta(days=30 * period)
    span = max(0, min(30, (LAST_DAY - first).days + 1))
    count = min(span, draw(st.sampled_from(counts)))
    return sorted(first + timedelta(days=n) for n in draw(st.randoms(use_true_random=False)).sample(range(span), count))


@st.composite
def device_claim(draw: st.DrawFn, n: int, start: date, period: int) -> tuple[f.ClaimSubmitted, bool]:
    """A device or setup claim for the `period`th period from `start`, dated by a day in it or
    by the month it ends in (or any day or month); and whether to bill instead the device code
    the record supports for that date when the claim is sent (mostly)."""
    npi = draw(st.sampled_from([NPI, NPI, NPI, OTHER_NPI]))
    first = start + timedelta(days=30 * period)
    end = min(first + timedelta(days=29), LAST_DAY)
    on: date | None = None
    month = draw(st.sampled_from(["2026-02", "2026-03", "2026-04"]))
    match draw(st.sampled_from(["day", "day", "end month", "any day", "any month"])):
        case "day" if first <= end:
            on = first + timedelta(days=draw(st.integers(0, (end - first).days)))
        case "end month":
            month = f"{first + timedelta(days=29):%Y-%m}"
        case "any month":
            pass
        case _:
            on = FIRST_DAY + timedelta(days=draw(st.integers(0, (LAST_DAY - FIRST_DAY).days)))
    codes = draw(st.lists(st.sampled_from(DEVICE_CODES), min_size=1, max_size=2, unique=True))
    return dated(f"D{n}", npi, codes, month, on), draw(st.integers(0, 3)) > 0


def dated(claim_id: str, npi: str, codes: Iterable[str], month: str, on: date | None) -> f.ClaimSubmitted:
    lines = [f.ClaimLine(code=c) for c in codes]
    if on is None:
        return claim(claim_id, PID, billing_provider_npi=npi, lines=lines, service_month=month)
    return claim(claim_id, PID, billing_provider_npi=npi, lines=lines, service_month=None, service_on=on)


def supported_device_code(ledger: Ledger, c: f.ClaimSubmitted) -> f.ClaimSubmitted:
    """`c` billing the device code the record now supports for its date, if one is."""
    month = c.service_month or f"{c.service_on:%Y-%m}"
    view = view_of(ledger, month)
    for code in ("99445", "99454"):
        spec = view.rules_on(c.service_on or view.first).spec(code)
        if spec is not None and allowance(spec, view, c.billing_provider_npi, c.service_on).units:
            return dated(c.claim_id, c.billing_provider_npi, [code], month, c.service_on)
    return c


Step = tuple[f.ClaimSubmitted, bool] | list[f.DataTransmitted]


@st.composite
def device_history(draw: st.DrawFn) -> tuple[Record, list[Step]]:
    """An RPM device set up in February with days with data to mid-April; then claims for its
    periods, and between them days with data that arrive late (dated before earlier claims)."""
    start = date(2026, 2, draw(st.integers(1, 28)))
    setup = f.DeviceSetup(
        patient_id=PID,
        device_id="BP-1",
        program=f.DeviceProgram.RPM,
        category=f.DeviceCategory.PHYSIOLOGIC,
        setup_on=start,
    )
    days = {d for k in range(3) for d in draw(device_days(start, k, [0, 1, 3, 8, 12, 15, 20]))}
    record: Record = [*enrolled(PID), consent(f.Program.RPM, PID), setup, *transmitted(sorted(days))]
    steps: list[Step] = []
    claimed: list[int] = []  # periods claimed so far: late data mostly arrives for one of them
    for n in range(draw(st.integers(2, 6))):
        if claimed and draw(st.integers(0, 2)) > 0:
            period = draw(st.sampled_from(claimed) if draw(st.integers(0, 3)) else PERIODS)
            late = sorted(set(draw(device_days(start, period, [1, 5, 10, 16, 30]))) - days)
            steps.append(transmitted(late))
            days.update(late)
        claimed.append(draw(PERIODS))
        steps.append(draw(device_claim(n, start, claimed[-1])))
    return record, steps


@settings(PROPERTY, max_examples=150)
@given(case=device_history())
def test_a_device_period_is_billed_once_across_calendar_months(case: tuple[Record, list[Step]]) -> None:
    """G-06, G-08, G-14: one device code per 30-day period and one setup per episode, whatever month claims it."""
    record, steps = case
    note(described(record))
    ledger = fresh(record)
    accepted = []
    for step in steps:
        if isinstance(step, list):
            add(ledger, step)
            note(f"late days with data: {[x.transmitted_on.isoformat() for x in step]}")
            continue
        c = supported_device_code(ledger, step[0]) if step[1] else step[0]
        refused = outcome(ledger, c)
        when, by = c.service_month or c.service_on, c.billing_provider_npi
        note(f"{c.claim_id} {[x.code for x in c.lines]} for {when} by {by}: {refused or 'accepted'}")
        if not refused:
            accepted.append(c.claim_id)
    live = {c.submitted.claim_id for m in ("2026-02", "2026-03", "2026-04") for c in view_of(ledger, m).live_claims()}
    assert live == set(accepted)
    event(f"{len(accepted)} accepted")
    lines = [x for x in view_of(ledger).patient.scoped_lines() if x.claim_id in live and x.scope is not None]
    setups = [(x.claim_id, x.code, x.month) for x in lines if x.code == "99453"]
    assert len(setups) <= 1, f"one RPM episode set up more than once, (claim, code, claim month): {setups}"
    periods = sorted((window(x.scope), x.claim_id, x.code, x.month) for x in lines if x.code != "99453")
    for (a, *first), (b, *second) in itertools.pairwise(periods):
        assert a[1] < b[0], f"two device codes for overlapping 30-day periods: {a[0]} {first}, {b[0]} {second}"


def window(scope: object) -> tuple[date, date]:
    """The 30 days of a device period, from its scope (a DevicePeriod from its first day)."""
    assert isinstance(scope, DevicePeriod), scope
    return scope.start, scope.start + timedelta(days=29)
