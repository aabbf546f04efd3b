"""The run's memo: shared values, and large parsed data kept out of the garbage collector."""

import gc

import pytest

from process.runner import Memo


def test_a_value_is_made_once_per_run():
    calls = []
    with Memo() as memo:
        for _ in range(3):
            assert memo.get("data", lambda: calls.append(1) or [1, 2]) == [1, 2]
    assert calls == [1]


def test_large_data_is_frozen_for_the_run_and_released_after():
    assert gc.get_freeze_count() == 0
    with Memo() as memo:
        data = memo.get("data", lambda: [{"n": n} for n in range(1000)], large=True)
        assert gc.get_freeze_count() >= 1000  # the parsed objects, out of the collector's way
        assert gc.isenabled()
        assert len(data) == 1000
    assert gc.get_freeze_count() == 0
    assert gc.isenabled()


def test_the_collector_is_restored_when_loading_fails():
    def broken():
        raise ValueError("bad data")

    with Memo() as memo, pytest.raises(ValueError, match="bad data"):
        memo.get("data", broken, large=True)
    assert gc.isenabled()
    assert gc.get_freeze_count() == 0
