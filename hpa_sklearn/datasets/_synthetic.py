"""The embedded synthetic data set: HPA-like four-channel images with known labels.

:func:`make_hpa_like` checks its arguments, draws the label sets and renders the images chunk by chunk:
the cells and reference channels come from the scene (``_synthetic_scene``), the green channel holds
one pattern per positive class (``_synthetic_patterns``), and on request the pixels that carry each
class's pattern come back as boolean masks.
"""

import numbers

from numbers import Integral, Real

import numpy as np
from sklearn.utils import Bunch
from sklearn.utils._param_validation import (
    Interval,
    InvalidParameterError,
    StrOptions,
    validate_params,
)

from .._constants import CHANNELS, CLASS_NAMES, MIN_IMAGE_SIZE, N_CLASSES
from ._label_stats import LABEL_SET_COUNTS
from ._synthetic_patterns import _PATTERNS
from ._synthetic_scene import _Scene, _standard_normal
from ..exceptions import InputError

_LABEL_DISTRIBUTIONS = ("hpa", "uniform")
_MAX_UNIFORM_LABELS = 3

# Pixels per channel rendered together: bounds the float working memory (about 40 float32 planes).
_PIXEL_BUDGET = 2**17
# A class's mask holds the pixels where its drawn pattern exceeds this fraction of the pattern's
# maximum in that image (see make_hpa_like, return_masks).
_MASK_FRACTION = 0.1
# per-sample gain ranges of the channels red, green, blue, yellow
_GAINS = ((0.5, 0.9), (0.55, 1.0), (0.6, 1.0), (0.45, 0.85))

_SET_INDICATOR = np.zeros((len(LABEL_SET_COUNTS), N_CLASSES), dtype=np.uint8)
for _row, (_label_set, _) in enumerate(LABEL_SET_COUNTS):
    _SET_INDICATOR[_row, list(_label_set)] = 1
_SET_COUNTS = np.array([count for _, count in LABEL_SET_COUNTS], dtype=float)
del _row, _label_set


# ----------------------------------------------------------------------------------------------
# argument checks
# ----------------------------------------------------------------------------------------------
def _check_classes(classes):
    if classes is None:
        return np.arange(N_CLASSES)
    if isinstance(classes, (str, bytes)) or not np.iterable(classes):
        raise TypeError(
            f"classes must be None or a sequence of class ids (integers 0..{N_CLASSES - 1}); "
            f"got {classes!r}. Example: classes=[0, 21, 25]."
        )
    values = list(classes)
    if not values:
        raise InputError("classes is empty; pass at least one class id, or None for all 28 classes.")
    for value in values:
        if isinstance(value, bool) or not isinstance(value, numbers.Integral):
            raise TypeError(
                f"classes must contain integer class ids 0..{N_CLASSES - 1}; got {value!r} in "
                f"{classes!r}. Class names map to ids through CLASS_NAMES.index(name)."
            )
        if not 0 <= value < N_CLASSES:
            raise InputError(
                f"classes contains {value}, which is not a class id; ids run from 0 to {N_CLASSES - 1}."
            )
    if len(set(values)) != len(values):
        raise InputError(f"classes contains repeated ids: {values!r}; list each class once.")
    return np.sort(np.asarray(values, dtype=np.intp))


def _make_rng(random_state):
    if random_state is None or isinstance(random_state, np.random.Generator):
        return np.random.default_rng(random_state)
    if isinstance(random_state, np.random.RandomState):
        return np.random.default_rng(random_state.randint(2**32, dtype=np.uint64))
    if isinstance(random_state, numbers.Integral) and not isinstance(random_state, bool):
        if random_state < 0:
            raise InputError(f"random_state must be a non-negative integer; got {random_state}.")
        return np.random.default_rng(int(random_state))
    raise TypeError(
        "random_state must be None, a non-negative integer, a numpy.random.Generator or a "
        f"numpy.random.RandomState; got {random_state!r}."
    )


# ----------------------------------------------------------------------------------------------
# labels
# ----------------------------------------------------------------------------------------------
def _sample_labels(n_samples, label_distribution, classes, rng):
    """Return a uint8 indicator matrix (n_samples, 28) whose positives lie in ``classes``."""
    target = np.zeros((n_samples, N_CLASSES), dtype=np.uint8)
    if label_distribution == "hpa":
        # Each real label set restricted to ``classes``; equal restrictions pooled, empty ones dropped.
        restricted, inverse = np.unique(_SET_INDICATOR[:, classes], axis=0, return_inverse=True)
        weights = np.bincount(inverse.ravel(), weights=_SET_COUNTS, minlength=len(restricted))
        keep = restricted.any(axis=1)
        restricted, weights = restricted[keep], weights[keep]
        choice = rng.choice(len(restricted), size=n_samples, p=weights / weights.sum())
        target[:, classes] = restricted[choice]
    else:
        n_labels = rng.integers(1, min(_MAX_UNIFORM_LABELS, len(classes)) + 1, size=n_samples)
        keys = rng.random((n_samples, len(classes)))
        kth = np.take_along_axis(np.sort(keys, axis=1), n_labels[:, None] - 1, axis=1)
        target[:, classes] = keys <= kth
    return target



def _pattern_mask(pattern):
    """Pixels of each image of ``pattern`` (n, size, size) above ``_MASK_FRACTION`` of its maximum.

    A pattern is non-negative, so one that is zero everywhere gives an empty mask.
    """
    peak = pattern.max(axis=(1, 2), keepdims=True)
    return pattern > _MASK_FRACTION * peak


def _render(out, target, noise, rng, masks=None):
    """Draw the images of ``target`` (n, 28) into ``out`` (n, size, size, 4) uint8.

    ``masks``, a zeroed bool array (n, 28, size, size) or None, receives each true class's
    :func:`_pattern_mask`; it draws no random numbers, so the images do not depend on it.
    """
    n, size = out.shape[:2]
    sc = _Scene(n, size, rng)
    green = 0.03 * sc.cell
    for k in np.flatnonzero(target.any(axis=0)):
        sel = np.flatnonzero(target[:, k])
        weight = rng.uniform(0.6, 1.0, (len(sel), 1, 1)).astype(np.float32)
        pattern = _PATTERNS[k](sc, sel)
        if masks is not None:
            # the weight is a positive factor per image: the mask of weight * pattern is the same
            masks[sel, k] = _pattern_mask(pattern)
        green[sel] += weight * pattern
    red = sc.mt + 0.12 * sc.cell
    blue = sc.nuc * sc.at(sc.brightness) * sc.chromatin * (1 - 0.5 * sc.nucleoli)
    for c, field in enumerate((red, green, blue, sc.er)):
        gain = rng.uniform(*_GAINS[c], (n, 1, 1)).astype(np.float32)
        value = field * gain + rng.uniform(0.005, 0.04, (n, 1, 1)).astype(np.float32)
        if noise:
            scale = noise * np.sqrt(np.maximum(value, 0) + 0.1)
            value += scale * _standard_normal(rng, value.shape)
        out[..., c] = np.clip(value * 255 + 0.5, 0, 255)


@validate_params(
    {
        "n_samples": [Interval(Integral, 1, None, closed="left")],
        "image_size": [Interval(Integral, MIN_IMAGE_SIZE, None, closed="left")],
        "random_state": [None, Interval(Integral, 0, None, closed="left"), np.random.Generator,
                         np.random.RandomState],
        "label_distribution": [StrOptions(set(_LABEL_DISTRIBUTIONS))],
        "classes": [None, "array-like"],
        "noise": [Interval(Real, 0, None, closed="left")],
        "return_X_y": ["boolean"],
        "return_masks": ["boolean"],
    },
    prefer_skip_nested_validation=True,
)
def make_hpa_like(
    n_samples=1000,
    image_size=64,
    *,
    random_state=None,
    label_distribution="hpa",
    classes=None,
    noise=0.04,
    return_X_y=False,
    return_masks=False,
):
    """Generate an HPA-like data set: four-channel cell images with multi-label protein locations.

    Each image shows a few cells (more in larger images): blue elliptical nuclei, red microtubules
    radiating through the cytoplasm, a yellow reticular endoplasmic reticulum denser near the
    nucleus, and a green protein whose location relative to those structures encodes the classes;
    every one of the 28 classes has its own green pattern (e.g. Nucleoplasm fills the nuclei,
    Microtubules copies the red filaments, Endoplasmic reticulum copies the yellow network, Plasma
    membrane outlines the cells, Peroxisomes are many tiny cytoplasmic dots). Telling them apart
    needs the reference channels, and small structures need resolution: at 32 px dots blur into
    diffuse stains, at 128 px they are distinct. Intensities vary per sample, and the images have a
    background and camera noise.

    Labels follow the real competition data by default: whole label sets are drawn from the
    empirical distribution of ``train.csv`` (31,072 images), so class frequencies, co-occurrence
    and the number of labels per image match the real data in expectation.

    Parameters
    ----------
    n_samples : int, default=1000
        Number of images.

    image_size : int, default=64
        Side of the square images in pixels, at least ``MIN_IMAGE_SIZE`` (32). The nucleus radius is
        about ``0.1 * image_size * (64 / image_size) ** 0.25`` px, so larger images hold a few more
        cells, drawn in more detail.

    random_state : int, numpy.random.Generator, numpy.random.RandomState or None, default=None
        Seed of ``numpy.random.default_rng``; an integer gives the same data set every time. A
        ``RandomState`` seeds a new generator from one draw.

    label_distribution : {"hpa", "uniform"}, default="hpa"
        ``"hpa"``: label sets drawn from the real ``train.csv`` distribution (every image has at
        least one label; rare classes such as Rods & rings, 0.04 %, occur at their real rate).
        ``"uniform"``: one to three labels per image (equally likely), chosen uniformly, so every
        class is equally frequent.

    classes : sequence of int or None, default=None
        Class ids (0..27) that may be positive; the others are always 0. With ``"hpa"``, each real
        label set is restricted to these classes and sets left empty are not drawn (the relative
        frequencies and co-occurrence of the kept classes stay real). None means all 28 classes.

    noise : float, default=0.04
        Strength of the camera noise, relative to the full intensity scale: Gaussian noise of
        standard deviation ``noise * sqrt(v + 0.1)`` at intensity ``v`` in [0, 1] (shot noise, whose
        variance grows with the signal, plus read noise). 0 gives noise-free images.

    return_X_y : bool, default=False
        If True, return ``(images, target)`` instead of a Bunch (``(images, target, masks)`` with
        ``return_masks``).

    return_masks : bool, default=False
        If True, also return where each class's pattern was drawn: a boolean array ``masks`` of
        shape (n_samples, 28, image_size, image_size) in which ``masks[i, k]`` holds the pixels of
        image ``i`` where the green pattern of class ``k`` exceeds 10 % of that pattern's maximum
        in that image (the pattern as drawn, before the per-image intensity factors, the
        background, the other classes' patterns and the noise are added; those factors are
        positive per image, so they do not move the mask). A class that is not a label of the
        image has an all-False mask. A true class's mask is empty only where nothing of its pattern
        was drawn in the image: classes drawn as a few bodies in the cytoplasm drop the bodies that
        fall in a neighbouring cell or beyond the border, and can lose all of them (Cytoplasmic
        bodies and Rods & rings in about 0.3 % of 32 px images; none seen in 600 images of 64
        px). The maximum is the pattern's maximum inside the image, so a pattern drawn mostly
        beyond the border is masked where its visible part is. Made for pointing-game evaluations
        of explanation heatmaps: whether a heatmap's maximum for (image ``i``, class ``k``) falls
        inside ``masks[i, k]``, against the chance rate ``masks[i, k].mean()``. The masks draw no
        random numbers: the images and labels are the same as with ``return_masks=False``, which
        computes none of them. Memory: ``n_samples * 28 * image_size**2`` bytes (one byte per
        pixel), e.g. 115 MB for 1000 images of 64 px and 1.8 GB for 4000 images of 128 px; where
        that is too much, ask for masks only for the images you evaluate (e.g. a smaller test set
        generated with its own ``random_state``).

    Returns
    -------
    data : :class:`~sklearn.utils.Bunch`
        Dictionary-like object with the attributes:

        images : ndarray of shape (n_samples, image_size, image_size, 4), dtype uint8
            The images, channels in the order red, green, blue, yellow.
        target : ndarray of shape (n_samples, 28), dtype uint8
            The 0/1 label indicator matrix; every row has at least one 1.
        ids : ndarray of shape (n_samples,), dtype object
            Unique sample ids (str) usable as file names: ``"synthetic-000000"``,
            ``"synthetic-000001"``, ...
        target_names : list of str
            The 28 class names, index = class id.
        channels : list of str
            ``["red", "green", "blue", "yellow"]``.
        DESCR : str
            A description of the data set and of the arguments that made it.
        masks : ndarray of shape (n_samples, 28, image_size, image_size), dtype bool
            Only with ``return_masks=True``: the pixels of each image that carry each true class's
            pattern (see ``return_masks``).

    (images, target) or (images, target, masks) : tuple of ndarray
        Returned instead when ``return_X_y`` is True; ``masks`` only with ``return_masks=True``.

    See Also
    --------
    hpa_sklearn.datasets.load_hpa : Load the real Kaggle images and labels.

    Examples
    --------
    >>> from hpa_sklearn.datasets import make_hpa_like
    >>> data = make_hpa_like(n_samples=4, image_size=32, random_state=0)
    >>> data.images.shape, data.images.dtype
    ((4, 32, 32, 4), dtype('uint8'))
    >>> data.target.shape
    (4, 28)
    >>> bool(data.target.sum(axis=1).min() >= 1)
    True
    >>> data.ids[0]
    'synthetic-000000'
    >>> X, Y = make_hpa_like(n_samples=6, image_size=32, classes=[0, 21, 25],
    ...                      label_distribution="uniform", random_state=0, return_X_y=True)
    >>> sorted(set(Y.nonzero()[1].tolist()))
    [0, 21, 25]

    Where each true class was drawn, e.g. for a pointing game of explanation heatmaps:

    >>> import numpy as np
    >>> X, Y, masks = make_hpa_like(n_samples=8, image_size=32, random_state=0,
    ...                             return_X_y=True, return_masks=True)
    >>> masks.shape, masks.dtype
    ((8, 28, 32, 32), dtype('bool'))
    >>> bool(np.array_equal(masks.any(axis=(2, 3)), Y == 1))  # true classes only, none empty here
    True
    >>> X_alone, Y_alone = make_hpa_like(n_samples=8, image_size=32, random_state=0, return_X_y=True)
    >>> bool(np.array_equal(X, X_alone) and np.array_equal(Y, Y_alone))
    True

    The green channel itself as a stand-in heatmap: its maximum falls in a true class's mask far
    more often than chance (the masks' mean area).

    >>> pairs = np.argwhere(Y == 1)
    >>> hits = [masks[i, k].flat[X[i, :, :, 1].argmax()] for i, k in pairs]
    >>> chance = np.mean([masks[i, k].mean() for i, k in pairs])
    >>> bool(np.mean(hits) > 2 * chance)
    True
    """
    for name, value, low in (("n_samples", n_samples, 1), ("image_size", image_size,
                                                          MIN_IMAGE_SIZE)):
        if isinstance(value, (bool, np.bool_)):  # an int to Python, not a size
            raise InvalidParameterError(
                f"The {name!r} parameter of make_hpa_like must be an int in the range [{low}, "
                f"inf). Got {value!r} instead.")
    class_ids = _check_classes(classes)
    if not np.isfinite(noise):
        raise InputError(f"noise must be a finite number >= 0 (0 for clean images); got {noise}.")
    rng = _make_rng(random_state)

    target = _sample_labels(n_samples, label_distribution, class_ids, rng)
    images = np.empty((n_samples, image_size, image_size, len(CHANNELS)), dtype=np.uint8)
    masks = None
    if return_masks:
        masks = np.zeros((n_samples, N_CLASSES, image_size, image_size), dtype=bool)
    chunk = max(1, _PIXEL_BUDGET // image_size**2)
    for start in range(0, n_samples, chunk):
        stop = min(start + chunk, n_samples)
        part = None if masks is None else masks[start:stop]
        _render(images[start:stop], target[start:stop], float(noise), rng, part)
    if return_X_y:
        return (images, target) if masks is None else (images, target, masks)

    width = max(6, len(str(n_samples - 1)))
    ids = np.array([f"synthetic-{i:0{width}d}" for i in range(n_samples)], dtype=object)
    descr = (
        "HPA-like synthetic images (hpa_sklearn.datasets.make_hpa_like).\n"
        f"{n_samples} images of {image_size}x{image_size} px, channels red (microtubules), green "
        "(protein of interest), blue (nucleus), yellow (endoplasmic reticulum); 28 Human Protein "
        "Atlas location classes, one green pattern each, multi-label.\n"
        f"label_distribution={label_distribution!r}, classes="
        f"{'all' if classes is None else class_ids.tolist()}, noise={noise}, "
        f"random_state={random_state!r}."
    )
    data = Bunch(
        images=images,
        target=target,
        ids=ids,
        target_names=list(CLASS_NAMES),
        channels=list(CHANNELS),
        DESCR=descr,
    )
    if masks is not None:
        data.masks = masks
    return data
