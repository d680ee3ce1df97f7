"""The file that is too big on its own: it builds up 300 MiB in 10 MiB steps."""
import time

MIB = 1024 * 1024


def test_c_builds_index():
    time.sleep(0.2)
    chunks = []
    for _ in range(30):
        chunks.append(bytearray(b"c") * (10 * MIB))  # every page touched
        time.sleep(0.02)
    assert len(chunks) == 30
