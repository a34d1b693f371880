"""The fast tier: tests that need no Keras network and run no command end to end.

Run only this tier with ``python -m pytest tests/unit`` (add ``-n 0`` for one process), or pick
it out of the whole suite with ``-m unit``: every test collected under this folder carries the
``unit`` marker. The whole tier runs in well under two minutes on two cores; a test that imports
Keras (TensorFlow alone takes seconds to import) fails here and belongs in ``tests/integration``.
"""

import sys
from pathlib import Path

import pytest

UNIT_DIR = Path(__file__).resolve().parent


def pytest_configure(config):
    config.addinivalue_line(
        "markers", "unit: the fast tier in tests/unit (no Keras, no end-to-end command)")


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config, items):
    # tryfirst: the marker is set before '-m' deselects (a hook of every conftest sees all items)
    for item in items:
        if UNIT_DIR == item.path.parent or UNIT_DIR in item.path.parents:
            item.add_marker(pytest.mark.unit)


@pytest.fixture(autouse=True)
def _release_keras_graphs():
    """Overrides the suite-wide fixture of the same name: a unit test builds no Keras graph, and
    ``keras.backend.clear_session()`` costs about a second after each test wherever an earlier
    test of the same process imported Keras."""
    yield


@pytest.fixture(autouse=True)
def _no_keras_in_the_unit_tier():
    """Fail a unit test that imports Keras or TensorFlow (where they were not loaded before it,
    e.g. by an integration test run earlier in the same process)."""
    before = {name for name in ("keras", "tensorflow") if name in sys.modules}
    yield
    loaded = sorted({name for name in ("keras", "tensorflow") if name in sys.modules} - before)
    if loaded:
        pytest.fail(f"this unit test imported {' and '.join(loaded)}; the unit tier stays fast "
                    "without it: move the test to tests/integration", pytrace=False)
