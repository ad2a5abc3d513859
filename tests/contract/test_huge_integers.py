"""Every registered op with integer parameters from its entry's hypothesis strategy
(huge, negative, past int64), each call in a child process under a memory cap
(kit.isolated): it must return the reference's answer, or raise ValueError where the
entry's int_outcome says the integers cannot be served, and never crash, hang or
allocate for what it does not compute."""

import kit
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from kit.isolated import check_isolated

ENTRIES = [e for e in kit.entries() if e.int_calls is not None]
IDS = [e.name for e in ENTRIES]


@pytest.mark.parametrize("entry", ENTRIES, ids=IDS)
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_huge_integers(entry, simd_level, isolated, data):
    arrays, params = data.draw(entry.int_calls(), label="call")
    check_isolated(entry, isolated, simd_level, arrays, params)
