"""Twenty small tests and one that loads 160 MiB of data and drops it at its end."""
import time

import pytest

MIB = 1024 * 1024


@pytest.mark.parametrize("i", range(10))
def test_small_before(i):
    time.sleep(0.05)
    assert sum(range(1000)) == 499500


def test_load_dataset():
    data = bytearray(b"d") * (160 * MIB)  # every page touched
    time.sleep(0.3)
    assert data[-1] == ord("d")
    del data


@pytest.mark.parametrize("i", range(10))
def test_small_after(i):
    time.sleep(0.05)
    assert sorted([3, 1, 2]) == [1, 2, 3]
