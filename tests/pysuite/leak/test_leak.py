"""Every test keeps 2 MiB alive: its prometheus collector stays registered in the default registry."""
import time

import prometheus_client
import pytest
from prometheus_client.core import GaugeMetricFamily

MIB = 1024 * 1024


class PerTestCollector:
    def __init__(self, name):
        self.name = name
        self.data = bytearray(b"x") * (2 * MIB)  # the test's samples, every page touched

    def collect(self):
        yield GaugeMetricFamily(self.name, "bytes held by one test", value=len(self.data))


@pytest.fixture(autouse=True)
def metrics(request):
    collector = PerTestCollector("leak_" + request.node.callspec.id)
    prometheus_client.REGISTRY.register(collector)  # never unregistered: the leak
    yield collector


@pytest.mark.parametrize("i", range(64))
def test_compute(i, metrics):
    time.sleep(0.05)
    assert len(metrics.data) == 2 * MIB
