"""Aggregate keys are stored ids: the fast uuid5 must give exactly the standard library's."""

from __future__ import annotations

import uuid

from hypothesis import given, strategies as st

from domain import keys


@given(st.text())
def test_uuid5_is_the_standard_uuid5(name: str) -> None:
    ours, standard = keys.uuid5(name), uuid.uuid5(keys.NAMESPACE, name)
    assert ours == standard
    assert (str(ours), hash(ours), ours.version, ours.variant) == (
        str(standard),
        hash(standard),
        5,
        uuid.RFC_4122,
    )
    assert {ours: 1}[standard] == 1  # usable as the same dict key
