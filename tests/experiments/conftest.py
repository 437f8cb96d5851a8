"""One local Ray instance for the whole experiments test package (starting one costs seconds)."""

import pytest


@pytest.fixture(scope="package")
def ray_session():
    ray = pytest.importorskip("ray", reason="ray[tune] is part of the dev extra: `pip install -e .[dev]`")
    ray.init(address="local", num_cpus=2, include_dashboard=False, log_to_driver=False, logging_level=30)
    yield ray
    ray.shutdown()
