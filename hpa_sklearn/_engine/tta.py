"""Test-time augmentation (``tta``): the table of modes and their views (keras-free, so that the
command line lists them without importing Keras)."""

import numpy as np

from ..exceptions import InputError

# test-time augmentation (``tta``): the views of each mode, as (quarter turns, mirror left-right)
# applied to (n, h, w, c) batches; the table the parameter constraint and the CLI read
TTA_MODES = {
    "flips": ((0, False), (0, True), (2, True), (2, False)),  # as is, left-right, up-down, both
    "dihedral": tuple((k, mirror) for k in range(4) for mirror in (False, True)),
}


def tta_transforms(tta, image_size):
    """The views of ``tta`` (None or a key of :data:`TTA_MODES`) for images of ``(height,
    width)``."""
    if tta is None:
        return ((0, False),)
    if tta not in TTA_MODES:
        raise InputError(f"tta must be None or one of {sorted(TTA_MODES)}; got {tta!r}.")
    if any(turns % 2 for turns, _ in TTA_MODES[tta]) and image_size[0] != image_size[1]:
        raise InputError(
            f"tta='dihedral' turns images by 90 degrees, which needs square images; these are "
            f"{image_size[0]}x{image_size[1]} px. Use tta='flips'."
        )
    return TTA_MODES[tta]


def view(batch, transform):
    turns, mirror = transform
    if turns:
        batch = np.rot90(batch, turns, axes=(1, 2))
    if mirror:
        batch = batch[:, :, ::-1]
    return np.ascontiguousarray(batch)
