"""A small test file: a few quick tests."""
import time


def test_e_one():
    time.sleep(0.1)
    assert [1, 2, 3][::-1] == [3, 2, 1]


def test_e_two():
    time.sleep(0.1)
    data = bytearray(b"s") * (8 * 1024 * 1024)
    assert len(data) == 8 * 1024 * 1024
