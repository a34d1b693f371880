"""``combine``: several data sets as one, without copying their images."""

import numpy as np
from sklearn.utils import Bunch

from .._arrays import LazyImages
from ..exceptions import InputError


def _field(data, name, i):
    try:
        return data[name] if isinstance(data, dict) else getattr(data, name)
    except (KeyError, AttributeError):
        raise TypeError(
            f"data set {i} has no {name!r}; combine takes the Bunches that load_hpa and "
            "make_hpa_like return."
        ) from None


def combine(*datasets, return_X_y=False):
    """Join data sets end to end, without copying their images.

    The images of the result are a :class:`LazyImages` over the images of each data set (each
    typically the memory-mapped cache of :func:`load_hpa`): nothing is read or copied until rows
    are used, and then only those rows. :class:`~hpa_sklearn.HPAVGG16Classifier` trains and
    predicts on it batch by batch, as on one memmap. Targets and ids are small and are stacked.

    Parameters
    ----------
    *datasets : Bunch
        Two or more data sets as :func:`load_hpa` or :func:`make_hpa_like` return them (with
        ``images``, ``target`` and ``ids``; ``channels`` where present). Their images must have
        the same size and channels (in the same order), their ids must be unique across all of
        them, and either all or none must have labels.
    return_X_y : bool, default=False
        Return ``(images, target)`` instead of the Bunch.

    Returns
    -------
    data : :class:`~sklearn.utils.Bunch`
        ``images`` (a :class:`LazyImages` of shape ``(n_1 + n_2 + ..., size, size, channels)``),
        ``target`` (uint8 ``(n, 28)``, or None when no data set has labels), ``ids``,
        ``target_names``, ``channels`` and ``DESCR``, with the rows of the first data set first.

    Raises
    ------
    ValueError
        Fewer than two data sets, images of different sizes, channels or dtypes, an id that
        appears twice, or labelled and unlabelled data sets mixed.

    See Also
    --------
    LazyImages : The view of several arrays as one.
    load_hpa : Load a Kaggle-layout folder (or HPAv18 files).

    Examples
    --------
    >>> import numpy as np
    >>> from hpa_sklearn.datasets import combine, make_hpa_like
    >>> kaggle = make_hpa_like(n_samples=6, image_size=32, random_state=0)
    >>> extra = make_hpa_like(n_samples=4, image_size=32, random_state=1)
    >>> extra.ids = np.array([f"v18-{i}" for i in extra.ids], dtype=object)
    >>> both = combine(kaggle, extra)
    >>> type(both.images).__name__, both.images.shape, both.target.shape
    ('LazyImages', (10, 32, 32, 4), (10, 28))
    >>> bool(np.array_equal(np.asarray(both.images), np.concatenate([kaggle.images, extra.images])))
    True
    """
    if len(datasets) < 2:
        raise InputError(f"combine needs at least two data sets; got {len(datasets)}.")
    images = [_field(data, "images", i) for i, data in enumerate(datasets)]
    targets = [_field(data, "target", i) for i, data in enumerate(datasets)]
    ids = [np.asarray(_field(data, "ids", i), dtype=object) for i, data in enumerate(datasets)]
    channels = [data.get("channels") if isinstance(data, dict) else getattr(data, "channels", None)
                for data in datasets]

    first = images[0]
    for i, array in enumerate(images):
        if getattr(array, "ndim", None) != 4:
            raise InputError(
                f"data set {i}: images must be a 4-D array (n, size, size, channels); got shape "
                f"{getattr(array, 'shape', None)}."
            )
        if len(ids[i]) != len(array):
            raise InputError(f"data set {i} has {len(ids[i])} ids for {len(array)} images.")
        if i and (tuple(array.shape[1:]) != tuple(first.shape[1:]) or array.dtype != first.dtype):
            raise InputError(
                f"data sets 0 and {i} differ in image size or channels: {first.dtype} images of "
                f"{first.shape[1]}x{first.shape[2]} px with {first.shape[3]} channels against "
                f"{array.dtype} of {array.shape[1]}x{array.shape[2]} px with {array.shape[3]}; "
                "load them with the same image_size and channels."
            )
        if i and channels[0] is not None and channels[i] is not None \
                and list(channels[i]) != list(channels[0]):
            raise InputError(
                f"data sets 0 and {i} hold other channels, or the same in another order: "
                f"{list(channels[0])} against {list(channels[i])}; load them with the same "
                "channels=."
            )

    labelled = [t is not None for t in targets]
    if any(labelled) and not all(labelled):
        raise InputError(
            f"data sets {[i for i, has in enumerate(labelled) if not has]} have no labels (a "
            "template such as sample_submission.csv) and the others have: combine labelled data "
            "sets with labelled ones only."
        )
    if all(labelled):
        for i, target in enumerate(targets):
            if np.shape(target) != (len(ids[i]), np.shape(targets[0])[1]):
                raise InputError(
                    f"data set {i}: target has shape {np.shape(target)}; expected "
                    f"({len(ids[i])}, {np.shape(targets[0])[1]})."
                )
        target = np.concatenate([np.asarray(t) for t in targets])
    else:
        target = None

    all_ids = np.concatenate(ids)
    unique, counts = np.unique(all_ids.astype(str), return_counts=True)
    if len(unique) != len(all_ids):
        twice = unique[counts > 1]
        owners = [i for i, part in enumerate(ids) if twice[0] in set(part.astype(str))]
        raise InputError(
            f"{len(twice)} id(s) appear more than once among the data sets, e.g. {twice[0]!r} "
            f"(in data sets {owners}); ids must be unique across the data sets combined."
        )

    combined = LazyImages(list(images))
    if return_X_y:
        return combined, target
    sizes = " + ".join(f"{len(part):,}" for part in ids)
    first_data = datasets[0]
    names = (first_data.get("target_names") if isinstance(first_data, dict)
             else getattr(first_data, "target_names", None))
    return Bunch(
        images=combined,
        target=target,
        ids=all_ids,
        target_names=names,
        channels=None if channels[0] is None else list(channels[0]),
        DESCR=(f"{len(datasets)} data sets combined ({sizes} = {len(all_ids):,} samples, "
               f"{first.shape[1]}x{first.shape[2]} px, {first.shape[3]} channels); images not "
               "copied (a LazyImages over each set's images)."),
    )
