"""Tests of the embedded synthetic data set ``make_hpa_like`` and of its embedded label statistics."""

import re
from collections import Counter

import numpy as np
import pytest
from scipy import ndimage, stats

from hpa_sklearn._constants import CHANNELS, CLASS_NAMES, MIN_IMAGE_SIZE, N_CLASSES
from hpa_sklearn.datasets import _synthetic
from hpa_sklearn.datasets._label_stats import CLASS_COUNTS, LABEL_SET_COUNTS, N_SAMPLES
from hpa_sklearn.datasets._synthetic import make_hpa_like

RED, GREEN, BLUE, YELLOW = range(4)

# Each statistical test below fails by chance with probability at most ALPHA (Bonferroni over its
# classes where it tests several); the seeds are fixed, so a run is reproducible.
ALPHA = 1e-3


def _only(class_id, n=6, size=64, seed=0):
    """Noise-free float images whose only label is ``class_id``."""
    data = make_hpa_like(
        n, size, classes=[class_id], label_distribution="uniform", noise=0, random_state=seed
    )
    assert (data.target.sum(axis=1) == 1).all() and data.target[:, class_id].all()
    return data.images.astype(float)


def _nucleus_mask(images):
    blue = images[..., BLUE]
    return blue > 0.35 * blue.max(axis=(1, 2), keepdims=True)


def _green_signal(images):
    """Green above the image's own background level (its 5th percentile)."""
    green = images[..., GREEN]
    return np.clip(green - np.percentile(green, 5, axis=(1, 2), keepdims=True), 0, None)


def _corr(a, b):
    """Pearson correlation per image."""
    a = a - a.mean(axis=(1, 2), keepdims=True)
    b = b - b.mean(axis=(1, 2), keepdims=True)
    return (a * b).sum(axis=(1, 2)) / np.sqrt((a * a).sum(axis=(1, 2)) * (b * b).sum(axis=(1, 2)))


def _fine(x, sigma=1.5):
    """The fine structure of images: minus a Gaussian blur."""
    return x - ndimage.gaussian_filter(x, (0, sigma, sigma))


def _set_sizes(sets_and_counts):
    sizes = Counter()
    for label_set, count in sets_and_counts:
        sizes[len(label_set)] += count
    return sizes


# ----------------------------------------------------------------------------------------------
# output format
# ----------------------------------------------------------------------------------------------
def test_bunch_keys_shapes_and_dtypes():
    data = make_hpa_like(n_samples=5, image_size=40, random_state=0)
    assert set(data) == {"images", "target", "ids", "target_names", "channels", "DESCR"}
    assert data.images.shape == (5, 40, 40, 4) and data.images.dtype == np.uint8
    assert data.target.shape == (5, N_CLASSES) and data.target.dtype == np.uint8
    assert set(np.unique(data.target)) <= {0, 1}
    assert data.ids.shape == (5,)
    assert data.target_names == list(CLASS_NAMES)
    assert data.channels == list(CHANNELS) == ["red", "green", "blue", "yellow"]
    assert isinstance(data.DESCR, str) and "make_hpa_like" in data.DESCR


def test_ids_are_unique_file_name_safe_strings():
    data = make_hpa_like(n_samples=30, image_size=32, random_state=1)
    ids = list(data.ids)
    assert all(isinstance(i, str) for i in ids)
    assert len(set(ids)) == len(ids)
    assert all(re.fullmatch(r"[A-Za-z0-9_-]+", i) for i in ids)
    assert ids[0] == "synthetic-000000"


def test_return_X_y_gives_the_bunch_arrays():
    data = make_hpa_like(n_samples=4, image_size=32, random_state=3)
    images, target = make_hpa_like(n_samples=4, image_size=32, random_state=3, return_X_y=True)
    np.testing.assert_array_equal(images, data.images)
    np.testing.assert_array_equal(target, data.target)


def test_smallest_image_size_works():
    images, _ = make_hpa_like(n_samples=2, image_size=MIN_IMAGE_SIZE, random_state=0, return_X_y=True)
    assert images.shape == (2, MIN_IMAGE_SIZE, MIN_IMAGE_SIZE, 4)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"label_distribution": "hpa"},
        {"label_distribution": "uniform"},
        {"label_distribution": "hpa", "classes": [8, 9, 10]},
        {"label_distribution": "uniform", "classes": [27]},
    ],
)
def test_every_row_has_at_least_one_label(kwargs):
    _, target = make_hpa_like(n_samples=300, image_size=32, random_state=0, return_X_y=True, **kwargs)
    assert target.sum(axis=1).min() >= 1


def test_every_class_draws_green_signal_in_the_cells():
    """Each of the 28 patterns peaks at twice the most that the background (up to 0.04 of the full
    scale) and the non-specific stain of the cells (0.03) can reach without it."""
    floor = 2 * (0.04 + 0.03) * 255
    for class_id in range(N_CLASSES):
        images = _only(class_id, n=3, seed=class_id)
        assert images[..., GREEN].max(axis=(1, 2)).min() > floor, CLASS_NAMES[class_id]


# ----------------------------------------------------------------------------------------------
# randomness
# ----------------------------------------------------------------------------------------------
def test_same_seed_gives_identical_data():
    a = make_hpa_like(n_samples=20, image_size=48, random_state=7)
    b = make_hpa_like(n_samples=20, image_size=48, random_state=7)
    np.testing.assert_array_equal(a.images, b.images)
    np.testing.assert_array_equal(a.target, b.target)
    np.testing.assert_array_equal(a.ids, b.ids)


def test_different_seeds_give_different_data():
    a = make_hpa_like(n_samples=20, image_size=48, random_state=7)
    b = make_hpa_like(n_samples=20, image_size=48, random_state=8)
    assert not np.array_equal(a.target, b.target)
    assert (a.images != b.images).mean() > 0.5


def test_generator_and_randomstate_are_accepted():
    rng_a, rng_b = np.random.default_rng(5), np.random.default_rng(5)
    a = make_hpa_like(n_samples=3, image_size=32, random_state=rng_a, return_X_y=True)
    b = make_hpa_like(n_samples=3, image_size=32, random_state=rng_b, return_X_y=True)
    np.testing.assert_array_equal(a[0], b[0])
    c = make_hpa_like(n_samples=3, image_size=32, random_state=np.random.RandomState(5), return_X_y=True)
    d = make_hpa_like(n_samples=3, image_size=32, random_state=np.random.RandomState(5), return_X_y=True)
    np.testing.assert_array_equal(c[0], d[0])


# ----------------------------------------------------------------------------------------------
# the embedded label statistics
# ----------------------------------------------------------------------------------------------
def test_embedded_statistics_are_consistent():
    sets = [label_set for label_set, _ in LABEL_SET_COUNTS]
    assert len(set(sets)) == len(sets), "a label set is listed twice"
    assert all(s and list(s) == sorted(set(s)) and 0 <= min(s) and max(s) < N_CLASSES for s in sets)
    assert sum(count for _, count in LABEL_SET_COUNTS) == N_SAMPLES
    per_class = np.zeros(N_CLASSES, dtype=int)
    for label_set, count in LABEL_SET_COUNTS:
        per_class[list(label_set)] += count
    np.testing.assert_array_equal(per_class, CLASS_COUNTS)


def test_embedded_statistics_match_the_readme_table():
    # values copied from the label-statistics tables of ../shared/data/hpa/README.md (train.csv)
    assert N_SAMPLES == 31072
    assert CLASS_COUNTS[0] == 12885  # Nucleoplasm
    assert CLASS_COUNTS[25] == 8228  # Cytosol
    assert CLASS_COUNTS[15] == 21  # Microtubule ends
    assert CLASS_COUNTS[27] == 11  # Rods & rings
    assert _set_sizes(LABEL_SET_COUNTS) == {1: 15126, 2: 12485, 3: 3160, 4: 299, 5: 2}


@pytest.mark.realdata
def test_embedded_statistics_match_the_real_files(real_data_dir):
    readme = (real_data_dir / "README.md").read_text()
    rows = re.findall(r"^\|\s*(\d+)\s*\|\s*([^|]+?)\s*\|\s*(\d+) \(", readme, flags=re.MULTILINE)
    table = {int(class_id): (name, int(count)) for class_id, name, count in rows}
    assert len(table) == N_CLASSES
    for class_id in range(N_CLASSES):
        assert table[class_id] == (CLASS_NAMES[class_id], CLASS_COUNTS[class_id])

    import pandas as pd

    frame = pd.read_csv(real_data_dir / "train.csv")
    sets = frame["Target"].str.split().map(lambda t: tuple(sorted(int(x) for x in t)))
    assert len(frame) == N_SAMPLES
    assert dict(Counter(sets)) == dict(LABEL_SET_COUNTS)


# ----------------------------------------------------------------------------------------------
# sampled labels
# ----------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def hpa_target():
    _, target = make_hpa_like(n_samples=4000, image_size=32, random_state=11, return_X_y=True)
    return target


def test_hpa_class_frequencies_match_the_real_ones(hpa_target):
    """Exact binomial test per class, Bonferroni over the 28 classes."""
    n = len(hpa_target)
    counts = hpa_target.sum(axis=0)
    for class_id in range(N_CLASSES):
        p = CLASS_COUNTS[class_id] / N_SAMPLES
        result = stats.binomtest(int(counts[class_id]), n, p)
        assert result.pvalue > ALPHA / N_CLASSES, (CLASS_NAMES[class_id], counts[class_id], n * p)


def test_hpa_labels_per_image_match_the_real_ones(hpa_target):
    """Chi-square test of 1, 2, 3 and >= 4 labels per image."""
    real = _set_sizes(LABEL_SET_COUNTS)
    expected = np.array([real[1], real[2], real[3], real[4] + real[5]]) / N_SAMPLES
    sizes = hpa_target.sum(axis=1)
    observed = np.array([(sizes == 1).sum(), (sizes == 2).sum(), (sizes == 3).sum(), (sizes >= 4).sum()])
    assert stats.chisquare(observed, expected * len(sizes)).pvalue > ALPHA


def test_hpa_label_set_frequencies_match_the_real_ones(hpa_target):
    """Co-occurrence: chi-square test of the ten most frequent label sets and all others pooled."""
    top = LABEL_SET_COUNTS[:10]
    observed = Counter(tuple(np.flatnonzero(row)) for row in hpa_target)
    counts = [observed[label_set] for label_set, _ in top]
    counts.append(len(hpa_target) - sum(counts))
    probs = [count / N_SAMPLES for _, count in top]
    probs.append(1 - sum(probs))
    assert stats.chisquare(counts, np.array(probs) * len(hpa_target)).pvalue > ALPHA


def test_uniform_classes_are_equally_frequent_with_one_to_three_labels():
    _, target = make_hpa_like(
        n_samples=3000, image_size=32, label_distribution="uniform", random_state=2, return_X_y=True
    )
    assert stats.chisquare(target.sum(axis=0)).pvalue > ALPHA
    sizes = target.sum(axis=1)
    assert set(np.unique(sizes)) == {1, 2, 3}
    assert stats.chisquare(np.bincount(sizes)[1:]).pvalue > ALPHA


def test_classes_restricts_the_positive_classes():
    _, target = make_hpa_like(
        n_samples=300, image_size=32, classes=[0, 21, 25], label_distribution="uniform",
        random_state=0, return_X_y=True,
    )
    assert target[:, [0, 21, 25]].min(axis=0).tolist() == [0, 0, 0]
    assert target[:, [0, 21, 25]].max(axis=0).tolist() == [1, 1, 1]
    others = np.setdiff1d(np.arange(N_CLASSES), [0, 21, 25])
    assert not target[:, others].any()


def test_hpa_with_classes_keeps_real_relative_frequencies():
    """classes=[0, 25]: the real sets restricted to {0, 25}; sets without either are not drawn."""
    weights = Counter()
    for label_set, count in LABEL_SET_COUNTS:
        kept = tuple(c for c in label_set if c in (0, 25))
        if kept:
            weights[kept] += count
    _, target = make_hpa_like(
        n_samples=2000, image_size=32, classes=[0, 25], random_state=4, return_X_y=True
    )
    observed = Counter(tuple(np.flatnonzero(row)) for row in target)
    assert set(observed) <= {(0,), (25,), (0, 25)}
    keys = [(0,), (25,), (0, 25)]
    expected = np.array([weights[k] for k in keys], dtype=float)
    expected *= len(target) / expected.sum()
    assert stats.chisquare([observed[k] for k in keys], expected).pvalue > ALPHA


def test_hpa_with_a_rare_class_alone():
    _, target = make_hpa_like(n_samples=10, image_size=32, classes=[27], random_state=0, return_X_y=True)
    assert target[:, 27].all() and target.sum() == 10


# ----------------------------------------------------------------------------------------------
# structures with known answers (noise-free images with a single label)
# ----------------------------------------------------------------------------------------------
def _green_fraction_in_nuclei(images):
    green, nuclei = _green_signal(images), _nucleus_mask(images)
    return (green * nuclei).sum(axis=(1, 2)) / green.sum(axis=(1, 2))


def _green_distance_from_nuclei(images):
    """Green-weighted mean distance (px) to the nearest nucleus pixel."""
    green = _green_signal(images)
    distance = np.stack([ndimage.distance_transform_edt(~mask) for mask in _nucleus_mask(images)])
    return (green * distance).sum(axis=(1, 2)) / green.sum(axis=(1, 2))


def test_nucleoplasm_green_lies_in_the_blue_nuclei():
    assert _green_fraction_in_nuclei(_only(0)).min() > 0.6


def test_cytosol_green_lies_outside_the_nuclei():
    assert _green_fraction_in_nuclei(_only(25)).max() < 0.15


def test_plasma_membrane_green_lies_at_cell_boundaries_away_from_nuclei():
    membrane, cytosol = _only(21), _only(25)
    assert _green_fraction_in_nuclei(membrane).max() < 0.15
    assert _green_distance_from_nuclei(membrane).min() > 1.3 * _green_distance_from_nuclei(cytosol).max()


def test_endoplasmic_reticulum_green_follows_yellow_and_cytosol_does_not():
    er, cytosol = _only(6), _only(25)
    er_fine = _corr(_fine(er[..., GREEN]), _fine(er[..., YELLOW]))
    cytosol_fine = _corr(_fine(cytosol[..., GREEN]), _fine(cytosol[..., YELLOW]))
    assert er_fine.min() > 0.9
    assert cytosol_fine.max() < 0.8


def test_microtubules_green_follows_red_more_than_yellow():
    images = _only(14)
    with_red = _corr(images[..., GREEN], images[..., RED])
    with_yellow = _corr(images[..., GREEN], images[..., YELLOW])
    assert with_red.min() > 0.9
    assert (with_red > with_yellow + 0.2).all()


def test_intermediate_filaments_lie_between_the_red_filaments():
    microtubules, filaments = _only(14), _only(11)
    assert _corr(_fine(microtubules[..., GREEN]), _fine(microtubules[..., RED])).min() > 0.9
    assert _corr(_fine(filaments[..., GREEN]), _fine(filaments[..., RED])).max() < 0.3


# ----------------------------------------------------------------------------------------------
# class masks (return_masks): where each true class's pattern was drawn
# ----------------------------------------------------------------------------------------------
# Classes drawn as fields over the cells (nuclei, filaments, networks, boundaries, the bridge and
# the spindle of the first cell): something of them is in every image, so their mask is never
# empty. The others are drawn as a few points that can all fall outside the image or, for the
# cytoplasmic ones, into a neighbouring cell (where they are dropped): an empty mask is then right.
FIELD_CLASSES = [0, 1, 2, 6, 7, 11, 12, 13, 14, 15, 16, 17, 21, 22, 25]
POINT_CLASSES = sorted(set(range(N_CLASSES)) - set(FIELD_CLASSES))


def _single_label(class_id, n=3, size=48, noise=0.04, seed=0):
    """Images, masks of ``class_id`` (n, size, size) and all masks, with ``class_id`` the only label."""
    images, target, masks = make_hpa_like(
        n, size, classes=[class_id], label_distribution="uniform", noise=noise, random_state=seed,
        return_X_y=True, return_masks=True,
    )
    assert (target.sum(axis=1) == 1).all() and target[:, class_id].all()
    return images.astype(float), masks[:, class_id], masks


def test_masks_shape_dtype_and_the_bunch_and_tuple_forms():
    data = make_hpa_like(n_samples=5, image_size=40, random_state=0, return_masks=True)
    assert set(data) == {"images", "target", "ids", "target_names", "channels", "DESCR", "masks"}
    assert data.masks.shape == (5, N_CLASSES, 40, 40) and data.masks.dtype == np.bool_
    result = make_hpa_like(
        n_samples=5, image_size=40, random_state=0, return_X_y=True, return_masks=True
    )
    assert isinstance(result, tuple) and len(result) == 3
    for array, expected in zip(result, (data.images, data.target, data.masks)):
        np.testing.assert_array_equal(array, expected)
    assert "masks" not in make_hpa_like(n_samples=2, image_size=32, random_state=0)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"n_samples": 40, "image_size": 64},  # two chunks of 32 images
        {"n_samples": 7, "image_size": 32, "label_distribution": "uniform", "noise": 0},
    ],
)
def test_masks_do_not_change_images_or_labels(kwargs):
    plain = make_hpa_like(random_state=3, **kwargs)
    with_masks = make_hpa_like(random_state=3, return_masks=True, **kwargs)
    np.testing.assert_array_equal(with_masks.images, plain.images)
    np.testing.assert_array_equal(with_masks.target, plain.target)
    X, Y, _ = make_hpa_like(random_state=3, return_X_y=True, return_masks=True, **kwargs)
    np.testing.assert_array_equal(X, plain.images)
    np.testing.assert_array_equal(Y, plain.target)


def test_no_mask_is_computed_unless_asked(monkeypatch):
    def refuse(pattern):
        raise AssertionError("a mask was computed although return_masks=False")

    monkeypatch.setattr(_synthetic, "_pattern_mask", refuse)
    make_hpa_like(n_samples=4, image_size=32, random_state=0)
    with pytest.raises(AssertionError, match="a mask was computed"):
        make_hpa_like(n_samples=4, image_size=32, random_state=0, return_masks=True)


def test_mask_rule_is_above_a_tenth_of_the_pattern_maximum():
    pattern = np.array([[[0.0, 0.05, 0.1, 0.11, 1.0]], [[0.0, 0.0, 0.0, 0.0, 0.0]]], dtype=np.float32)
    expected = [[[False, False, False, True, True]], [[False] * 5]]
    np.testing.assert_array_equal(_synthetic._pattern_mask(pattern), expected)


def test_masks_are_exactly_the_drawn_patterns(monkeypatch):
    """With known patterns (class k: a ramp 0..1 along x in rows k..k+3), every true class's mask
    is exactly its ramp above 0.1, in the right image across the chunks of 128 images at 32 px."""
    size = 32
    ramp = np.zeros((N_CLASSES, size, size), dtype=np.float32)
    for k in range(N_CLASSES):
        ramp[k, k : k + 4] = np.linspace(0, 1, size)

    def pattern(k):
        return lambda sc, sel: np.repeat(ramp[k][None], len(sel), axis=0)

    monkeypatch.setattr(_synthetic, "_PATTERNS", tuple(pattern(k) for k in range(N_CLASSES)))
    _, target, masks = make_hpa_like(
        n_samples=140, image_size=size, label_distribution="uniform", random_state=0,
        return_X_y=True, return_masks=True,
    )
    expected = target[:, :, None, None].astype(bool) & (ramp > 0.1)[None]
    np.testing.assert_array_equal(masks, expected)


@pytest.fixture(scope="module")
def uniform_with_masks():
    """600 images of 32 px, one to three labels each, every class about equally frequent."""
    _, target, masks = make_hpa_like(
        n_samples=600, image_size=32, label_distribution="uniform", random_state=12,
        return_X_y=True, return_masks=True,
    )
    return target, masks


def test_absent_classes_have_empty_masks(uniform_with_masks):
    target, masks = uniform_with_masks
    assert not masks[target == 0].any()
    _, target, masks = make_hpa_like(
        n_samples=20, image_size=32, classes=[0, 21], random_state=0, return_X_y=True,
        return_masks=True,
    )
    others = np.setdiff1d(np.arange(N_CLASSES), [0, 21])
    assert not masks[:, others].any()


def test_present_classes_have_non_empty_masks(uniform_with_masks):
    """Field classes: never empty. Point classes: empty only when all their points left the image
    or their cell (measured: at most 0.4 % of 32 px images); here at most 10 % per class."""
    target, masks = uniform_with_masks
    non_empty = masks.any(axis=(2, 3))
    for class_id in range(N_CLASSES):
        rows = target[:, class_id] == 1
        assert rows.sum() >= 20, CLASS_NAMES[class_id]
        share = non_empty[rows, class_id].mean()
        if class_id in FIELD_CLASSES:
            assert share == 1, CLASS_NAMES[class_id]
        else:
            assert share >= 0.9, (CLASS_NAMES[class_id], share)


@pytest.mark.parametrize("class_id", range(N_CLASSES), ids=lambda k: CLASS_NAMES[k])
def test_green_is_brighter_inside_the_mask_and_peaks_there(class_id):
    """Single-label images: the mean green inside the class's mask exceeds the mean outside (camera
    noise on). Noise-free, the green maximum lies in the mask: there green = 0.03 * cells + w * p,
    so its maximum has p >= max(p) - 0.03 / w >= max(p) - 0.05, above a tenth of max(p)."""
    images, mask, masks = _single_label(class_id, seed=class_id)
    assert not np.delete(masks, class_id, axis=1).any()
    assert mask.any(axis=(1, 2)).all(), CLASS_NAMES[class_id]
    green = images[..., GREEN]
    inside = (green * mask).sum(axis=(1, 2)) / mask.sum(axis=(1, 2))
    outside = (green * ~mask).sum(axis=(1, 2)) / (~mask).sum(axis=(1, 2))
    assert (inside > outside + 10).all(), (inside, outside)

    images, mask, _ = _single_label(class_id, noise=0, seed=class_id)
    peak = images[..., GREEN].reshape(len(images), -1).argmax(axis=1)
    assert mask.reshape(len(mask), -1)[np.arange(len(mask)), peak].all()


def test_masks_follow_the_reference_structures():
    """Nucleoplasm is masked in the blue nuclei; Cytosol and Plasma membrane outside them."""
    for class_id, low, high in ((0, 0.8, 1.0), (25, 0.0, 0.1), (21, 0.0, 0.1)):
        images, mask, _ = _single_label(class_id, n=4, size=64, noise=0, seed=30 + class_id)
        in_nuclei = (mask & _nucleus_mask(images)).sum(axis=(1, 2)) / mask.sum(axis=(1, 2))
        assert low <= in_nuclei.min() and in_nuclei.max() <= high, (CLASS_NAMES[class_id], in_nuclei)


# ----------------------------------------------------------------------------------------------
# argument checks
# ----------------------------------------------------------------------------------------------
def _parameter(name, must_be, got):
    """scikit-learn's declarative check: the parameter, what it must be and the value given."""
    return rf"The '{name}' parameter of make_hpa_like must be {must_be}\. Got {got} instead\."


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        ({"n_samples": 0}, ValueError, _parameter("n_samples", r"an int in the range \[1, inf\)", "0")),
        ({"n_samples": 2.5}, TypeError, _parameter("n_samples", "an int.*", r"2\.5")),
        ({"n_samples": True}, TypeError, _parameter("n_samples", "an int.*", "True")),
        ({"image_size": 31}, ValueError,
         _parameter("image_size", r"an int in the range \[32, inf\)", "31")),
        ({"image_size": "64"}, TypeError, _parameter("image_size", "an int.*", "'64'")),
        ({"label_distribution": "balanced"}, ValueError,
         _parameter("label_distribution", r"a str among \{.*'uniform'.*\}", "'balanced'")),
        ({"classes": []}, ValueError, r"classes is empty"),
        ({"classes": [28]}, ValueError, r"classes contains 28.*0 to 27"),
        ({"classes": [-1]}, ValueError, r"classes contains -1"),
        ({"classes": [0, 0]}, ValueError, r"classes contains repeated ids: \[0, 0\]"),
        ({"classes": "0"}, TypeError, _parameter("classes", "None or an array-like", "'0'")),
        ({"classes": [1.5]}, TypeError, r"classes must contain integer class ids.*1\.5"),
        ({"noise": -0.1}, ValueError, _parameter("noise", r"a float in the range \[0\.0, inf\)",
                                                 r"-0\.1")),
        ({"noise": float("nan")}, ValueError, _parameter("noise", "a float.*", "nan")),
        ({"noise": "low"}, TypeError, _parameter("noise", "a float.*", "'low'")),
        ({"return_X_y": "yes"}, TypeError, _parameter("return_X_y", "an instance of 'bool'.*",
                                                      "'yes'")),
        ({"return_masks": 1}, TypeError, _parameter("return_masks", "an instance of 'bool'.*", "1")),
        ({"random_state": -1}, ValueError,
         _parameter("random_state", r"None, an int in the range \[0, inf\).*", "-1")),
        ({"random_state": "seed"}, TypeError, _parameter("random_state", "None, .*", "'seed'")),
    ],
)
def test_invalid_arguments_raise_clear_errors(kwargs, error, match):
    arguments = {"n_samples": 2, "image_size": 32, **kwargs}
    with pytest.raises(error, match=match):
        make_hpa_like(**arguments)
