"""ImageAugmenter's augmentation, which runs Keras preprocessing layers (moved from
tests/test_preprocessing.py: importing Keras and TensorFlow alone takes longer than the whole unit
tier allows; the augmenter's parameters and API are tested in tests/unit/test_preprocessing.py)."""

import numpy as np
from sklearn.pipeline import Pipeline

from hpa_sklearn import ChannelSelector, ImageAugmenter


def _images(n=4, size=32, seed=0):
    return np.random.default_rng(seed).integers(0, 256, (n, size, size, 4), dtype=np.uint8)


def test_fit_transform_augments_transform_is_identity():
    X = _images(8)
    augmenter = ImageAugmenter(random_state=0)
    X_aug = augmenter.fit_transform(X)
    assert X_aug.shape == X.shape and X_aug.dtype == np.uint8
    assert not np.array_equal(X_aug, X)
    assert augmenter.transform(X) is X


def test_augmentation_is_seeded():
    X = _images(8)
    first = ImageAugmenter(random_state=3).fit_transform(X)
    np.testing.assert_array_equal(first, ImageAugmenter(random_state=3).fit_transform(X))
    assert not np.array_equal(first, ImageAugmenter(random_state=4).fit_transform(X))


def test_flips_and_right_angle_rotations_are_exact():
    # with only flips and 90-degree turns, every output is one of the 8 symmetries of its input
    X = _images(16)
    X_aug = ImageAugmenter(rotation=0, zoom=0, shift=0, brightness=0, random_state=0).fit_transform(X)
    seen = set()
    for original, augmented in zip(X, X_aug):
        variants = []
        for k in range(4):
            turned = np.rot90(original, k, axes=(0, 1))
            variants += [turned, turned[:, ::-1]]
        matches = [i for i, v in enumerate(variants) if np.array_equal(v, augmented)]
        assert matches, "an augmented image is not a symmetry of its input"
        seen.add(matches[0])
    assert len(seen) > 3  # the draws cover several symmetries


def test_brightness_only_shifts_values():
    X = np.full((6, 32, 32, 4), 100, dtype=np.uint8)
    X_aug = ImageAugmenter(rotation=0, zoom=0, shift=0, horizontal_flip=False, vertical_flip=False,
                           rot90=False, brightness=0.2, random_state=0).fit_transform(X)
    per_image = X_aug.reshape(6, -1)
    assert np.all(per_image.min(axis=1) == per_image.max(axis=1))  # uniform change per image
    assert np.all(np.abs(per_image[:, 0].astype(int) - 100) <= 0.2 * 255 + 1)
    assert len(set(per_image[:, 0])) > 1


def test_in_a_pipeline_test_data_is_untouched():
    X = _images(6)
    pipe = Pipeline([("augment", ImageAugmenter(random_state=0)), ("channels", ChannelSelector("rgb"))])
    train_out = pipe.fit_transform(X)
    assert not np.array_equal(train_out, X[..., :3])
    np.testing.assert_array_equal(pipe.transform(X), X[..., :3])


def test_rot90_false_augments_images_that_are_not_square():
    X = np.zeros((2, 32, 48, 4), np.uint8)
    assert ImageAugmenter(rot90=False).fit_transform(X).shape == X.shape
