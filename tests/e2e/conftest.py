"""Fixtures shared by the end-to-end files: one small Kaggle-layout folder, one decoded-image
cache and one model folder trained by ``hpa-sklearn train`` with its defaults (the "cpu" recipe,
thresholds tuned on a 20 % hold-out), made once per test process."""

import pytest

from ._helpers import FAST, write_kaggle


@pytest.fixture(scope="session")
def kaggle_data(tmp_path_factory):
    """A Kaggle-layout folder of 16 labelled + 8 unlabelled HPA-like images of 32 px
    (read-only for the tests: copy it to change it)."""
    return write_kaggle(tmp_path_factory.mktemp("kaggle-data"))


@pytest.fixture(scope="session")
def image_cache(tmp_path_factory):
    """A decoded-image cache folder shared by the tests that are not about the cache."""
    return tmp_path_factory.mktemp("image-cache")


@pytest.fixture(scope="session")
def cli_model(kaggle_data, image_cache, tmp_path_factory):
    """A model folder from ``hpa-sklearn train`` with its defaults (recipe "cpu": the small CNN
    with flips and right-angle rotations, 8-view TTA; thresholds tuned on a 20 % hold-out), one
    epoch on ``kaggle_data`` (read-only for the tests: copy it to change it)."""
    from hpa_sklearn import cli

    out = tmp_path_factory.mktemp("cli-model") / "model"
    status = cli.main(["train", "--data", str(kaggle_data), *FAST, "--cache-dir",
                       str(image_cache), "--out", str(out)])
    assert status == 0
    return out
