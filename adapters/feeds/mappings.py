"""The codes feeds arrive in, mapped to the contract's vocabulary: data, not logic. The
defaults are here; a practice changes any of them with a JSON file of the same shape
(`carelane import --mappings FILE`), which is merged over them key by key."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class Mappings:
    # Encounter type codes (CPT/HCPCS, from FHIR Encounter.type or a CSV visit row) to the
    # contract's initiating visit types; an office E/M that is not initiating still counts
    # as a face-to-face visit (`face_to_face`).
    visit_types: dict[str, str] = field(default_factory=lambda: {
        "G0438": "awv", "G0439": "awv", "G0402": "ippe",
        **{f"992{n:02d}": "em" for n in (2, 3, 4, 5, 11, 12, 13, 14, 15)},
    })  # fmt: skip
    # HL7 v2 PV1-36 discharge disposition (HL7 table 0112) to the contract's settings;
    # "expired" means PatientDied.
    dispositions: dict[str, str] = field(default_factory=lambda: {
        "01": "home", "02": "inpatient", "03": "snf_part_a", "04": "custodial_nf", "06": "home",
        "07": "home", "20": "expired", "43": "inpatient", "50": "hospice", "51": "hospice",
        "61": "snf_part_a", "62": "inpatient_rehab", "63": "inpatient", "64": "custodial_nf",
        "65": "inpatient", "66": "inpatient",
    })  # fmt: skip
    # HL7 v2 PV1-2 patient class to the facility setting of a stay (A01).
    patient_classes: dict[str, str] = field(default_factory=lambda: {
        "I": "inpatient", "R": "inpatient_rehab",
    })  # fmt: skip
    # FHIR codings (system|code, or code alone) naming a care-management program, found in
    # Consent.category / Consent.provision.code / CarePlan.category. The system
    # http://carelane.example/program with the program's own name always works.
    programs: dict[str, str] = field(default_factory=lambda: {
        "99490": "CCM", "99491": "CCM", "99487": "CCM", "99424": "PCM", "99426": "PCM",
        "G0556": "APCM", "G0557": "APCM", "G0558": "APCM", "99457": "RPM", "99454": "RPM",
        "98975": "RTM", "98980": "RTM", "99484": "BHI", "99492": "COCM", "99493": "COCM",
        "G3002": "CPM", "99495": "TCM", "99496": "TCM",
        **{p: p for p in ("CCM", "PCM", "APCM", "RPM", "RTM", "BHI", "COCM", "CPM", "TCM")},
    })  # fmt: skip


DEFAULT = Mappings()


class MappingError(Exception):
    """A mappings file that cannot be used; the message names the file and the key."""


def load(path: str | None) -> Mappings:
    """The defaults, with a practice's file merged over them (unknown sections refused)."""
    if path is None:
        return DEFAULT
    try:
        given: Any = json.loads(Path(path).read_text(encoding="utf-8-sig"))
    except (OSError, ValueError) as e:
        raise MappingError(f"{path}: not a readable JSON file ({type(e).__name__})") from None
    if not isinstance(given, dict):
        raise MappingError(f"{path}: expected a JSON object of sections")
    merged: dict[str, dict[str, str]] = {}
    for section, default in vars(DEFAULT).items():
        extra = given.pop(section, {})
        if not isinstance(extra, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in extra.items()):
            raise MappingError(f"{path}: {section}: expected an object of text to text")
        merged[section] = {**default, **extra}
    if given:
        raise MappingError(f"{path}: unknown section {sorted(given)[0]!r} (known: {', '.join(vars(DEFAULT))})")
    return Mappings(**merged)
