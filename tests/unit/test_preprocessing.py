"""ChannelSelector and ImageAugmenter (its parameters and API; the augmentation itself runs Keras
layers and is tested in tests/integration/test_preprocessing_keras.py)."""

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.utils import estimator_checks
from sklearn.utils.estimator_checks import parametrize_with_checks

from hpa_sklearn import ChannelSelector, ImageAugmenter


def _images(n=4, size=32, seed=0):
    return np.random.default_rng(seed).integers(0, 256, (n, size, size, 4), dtype=np.uint8)


# ----------------------------------------------------------------------------- ChannelSelector
def test_select_and_reorder_named_channels():
    X = _images()
    out = ChannelSelector(["yellow", "green"]).fit_transform(X)
    np.testing.assert_array_equal(out, X[..., [3, 1]])
    assert out.dtype == np.uint8


def test_presets():
    X = _images()
    np.testing.assert_array_equal(ChannelSelector("all").fit_transform(X), X)
    rgb = ChannelSelector("rgb").fit_transform(X)
    np.testing.assert_array_equal(rgb, X[..., :3])
    display = ChannelSelector("hpa_display").fit_transform(X).astype(float)
    Xf = X.astype(float)
    np.testing.assert_allclose(display[..., 0], np.clip(np.rint(Xf[..., 0] + Xf[..., 3] / 2), 0, 255))
    np.testing.assert_allclose(display[..., 1], np.clip(np.rint(Xf[..., 1] + Xf[..., 3] / 2), 0, 255))
    np.testing.assert_allclose(display[..., 2], Xf[..., 2])


def test_contiguous_selection_keeps_a_memmap_on_disk(tmp_path):
    np.save(tmp_path / "x.npy", _images())
    X = np.load(tmp_path / "x.npy", mmap_mode="r")
    out = ChannelSelector("rgb").fit_transform(X)
    assert np.shares_memory(out, X)  # a view: nothing was read into memory


def test_custom_mix_and_float_input():
    X = _images().astype(np.float32) / 255
    out = ChannelSelector([{"green": 2.0}, "blue"]).fit_transform(X)
    assert out.dtype == np.float32
    np.testing.assert_allclose(out[..., 0], 2 * X[..., 1], rtol=1e-6)


def test_feature_names_and_input_channels():
    X = _images()[..., :2]
    selector = ChannelSelector(["blue"], input_channels=("green", "blue")).fit(X)
    assert list(selector.get_feature_names_out()) == ["blue"]
    np.testing.assert_array_equal(selector.transform(X), X[..., 1:2])


@pytest.mark.parametrize(
    "params, X, message",
    [
        ({"channels": ["purple"]}, _images(), "'purple', which is not an input channel"),
        ({"channels": "grey"}, _images(), "channels='grey' is not a preset"),
        ({"channels": []}, _images(), "channels is empty"),
        ({"channels": [{"red": "x"}]}, _images(), "weight of 'red' must be a finite number"),
        ({"input_channels": ("red", "red")}, _images(), "input_channels must be distinct"),
        ({}, _images()[..., :3], "X has 3 channels on its last axis but input_channels names 4"),
        ({}, np.full((2, 4), np.nan), "NaN"),
    ],
)
def test_channel_selector_errors(params, X, message):
    with pytest.raises(ValueError, match=message):
        ChannelSelector(**params).fit(X)


@parametrize_with_checks([ChannelSelector([0], input_channels=None)])
def test_channel_selector_sklearn_checks(estimator, check):
    # positional selection works on any table whose columns are channels
    check(estimator)


def test_positions_and_unnamed_channels():
    X = _images()
    np.testing.assert_array_equal(ChannelSelector([3, 0], input_channels=None).fit_transform(X),
                                  X[..., [3, 0]])
    with pytest.raises(ValueError, match="input_channels=None"):
        ChannelSelector(["red"], input_channels=None).fit(X)
    with pytest.raises(ValueError, match="position 4, outside the 4 input channels"):
        ChannelSelector([4]).fit(X)
    selector = ChannelSelector("rgb").fit(X)
    with pytest.raises(ValueError, match="X has 3 features, but ChannelSelector is expecting 4"):
        selector.transform(X[..., :3])


# ----------------------------------------------------------------------------- ImageAugmenter
@pytest.mark.parametrize(
    "params, message",
    [
        ({"rotation": -1}, r"rotation must be a number in \[0, 180.0\]; got -1"),
        ({"zoom": 2}, r"zoom must be a number in \[0, 0.9\]"),
        ({"fill_mode": "mirror"}, "fill_mode must be"),
    ],
)
def test_augmenter_errors(params, message):
    with pytest.raises(ValueError, match=message):
        ImageAugmenter(**params).fit(_images())


def test_rot90_needs_square_images():
    X = np.zeros((2, 32, 48, 4), np.uint8)
    with pytest.raises(ValueError, match="rot90=True needs square images; got 32x48"):
        ImageAugmenter().fit(X)
    # rot90=False takes them (its augmentation: tests/integration/test_preprocessing_keras.py)
    assert ImageAugmenter(rot90=False).fit(X).n_channels_in_ == 4


@pytest.mark.parametrize(
    "check",
    [
        estimator_checks.check_no_attributes_set_in_init,
        estimator_checks.check_estimator_cloneable,
        estimator_checks.check_estimator_repr,
        estimator_checks.check_get_params_invariance,
        estimator_checks.check_set_params,
        estimator_checks.check_parameters_default_constructible,
        estimator_checks.check_do_not_raise_errors_in_init_or_set_params,
        estimator_checks.check_estimator_tags_renamed,
        estimator_checks.check_valid_tag_types,
        estimator_checks.check_mixin_order,
    ],
    ids=lambda check: check.__name__,
)
def test_augmenter_sklearn_api_checks(check):
    # the common checks feed 2-D tables; spatial augmentation needs images, so its tags say so and
    # parametrize_with_checks would yield nothing: these are the API checks that need no data
    check(ImageAugmenter.__name__, ImageAugmenter(random_state=0))


def test_augmenter_clone_keeps_params():
    augmenter = ImageAugmenter(rotation=5, random_state=1)
    assert clone(augmenter).get_params() == augmenter.get_params()
