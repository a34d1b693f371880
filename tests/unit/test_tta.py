"""Test-time augmentation's views (hpa_sklearn._engine.tta): each mode's views are exactly the flips
and right-angle turns it names, computed on (n, h, w, c) batches; bad modes and shapes are named."""

import numpy as np
import pytest

from hpa_sklearn._engine.tta import TTA_MODES, tta_transforms, view
from hpa_sklearn.exceptions import InputError


def _batch(n=3, h=6, w=6, c=4, seed=0):
    return np.random.default_rng(seed).integers(0, 256, (n, h, w, c), dtype=np.uint8)


def _symmetries(image):
    """The 8 symmetries of one (h, w, c) image, computed independently of the library."""
    out = []
    for turns in range(4):
        turned = np.rot90(image, turns, axes=(0, 1))
        out += [turned, np.fliplr(turned)]
    return out


def test_no_tta_is_the_identity():
    assert tta_transforms(None, (6, 6)) == ((0, False),)
    X = _batch()
    np.testing.assert_array_equal(view(X, (0, False)), X)


def test_flips_are_as_is_left_right_up_down_and_both():
    X = _batch(h=6, w=10)  # flips need no square
    views = [view(X, t) for t in tta_transforms("flips", (6, 10))]
    expected = [X, X[:, :, ::-1], X[:, ::-1, :], X[:, ::-1, ::-1]]
    assert len(views) == 4
    for got, want in zip(views, expected):
        np.testing.assert_array_equal(got, want)


def test_dihedral_views_are_the_eight_symmetries_of_the_square():
    X = _batch(n=2)
    views = [view(X, t) for t in tta_transforms("dihedral", (6, 6))]
    assert len(views) == 8
    for i, image in enumerate(X):
        got = [v[i] for v in views]
        expected = _symmetries(image)
        # each view is one symmetry, and all eight appear (a random image has no symmetry)
        matches = [[j for j, e in enumerate(expected) if np.array_equal(g, e)] for g in got]
        assert all(len(m) == 1 for m in matches), matches
        assert sorted(m[0] for m in matches) == list(range(8))


def test_a_view_is_contiguous_and_leaves_the_batch_alone():
    X = _batch()
    before = X.copy()
    for transform in TTA_MODES["dihedral"]:
        out = view(X, transform)
        assert out.flags.c_contiguous and out.shape == X.shape and out.dtype == X.dtype
    np.testing.assert_array_equal(X, before)
    out = view(X, (1, True))
    out[...] = 0  # a copy, not a view of the caller's array
    np.testing.assert_array_equal(X, before)


def test_the_flip_views_undo_themselves():
    # flips are their own inverses: averaging predictions over views needs no mapping back
    X = _batch(h=4, w=8)
    for transform in TTA_MODES["flips"]:
        np.testing.assert_array_equal(view(view(X, transform), transform), X)


def test_dihedral_needs_square_images_and_says_so():
    with pytest.raises(InputError, match=r"tta='dihedral'.*needs square images; these are "
                                         r"32x48 px\. Use tta='flips'"):
        tta_transforms("dihedral", (32, 48))
    assert len(tta_transforms("flips", (32, 48))) == 4


@pytest.mark.parametrize("mode", ["flip", "Flips", "", 8])
def test_an_unknown_mode_lists_the_modes(mode):
    with pytest.raises(InputError, match=r"tta must be None or one of \['dihedral', 'flips'\]"):
        tta_transforms(mode, (32, 32))


def test_the_table_holds_distinct_views_starting_with_the_image_as_is():
    for name, transforms in TTA_MODES.items():
        assert transforms[0] == (0, False), name
        assert len(set(transforms)) == len(transforms), name
        assert all(turns in range(4) and isinstance(mirror, bool) for turns, mirror in transforms)
