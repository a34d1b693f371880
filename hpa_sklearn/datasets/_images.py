"""Decoding one stain channel from a file (Kaggle PNG, HPAv18 colour JPEG, full-size TIFF) and
resizing it. Pillow does the decoding and the area-averaging resize."""

import warnings

import numpy as np
from PIL import Image, UnidentifiedImageError

# file extensions tried, in order, for image_format="auto"
IMAGE_EXTENSIONS = {"png": (".png",), "jpg": (".jpg", ".jpeg"), "tif": (".tif", ".tiff")}
AUTO_ORDER = ("png", "jpg", "tif")

# In an HPAv18 colour JPEG each stain is drawn in its display colour: red, green and blue in their
# own plane, yellow as red + green. These are the RGB weights that recover the stain.
_COLOUR_PLANES = {
    "red": (1.0, 0.0, 0.0),
    "green": (0.0, 1.0, 0.0),
    "blue": (0.0, 0.0, 1.0),
    "yellow": (0.5, 0.5, 0.0),
}


class ImageFileError(ValueError):
    """An image file that cannot be used: unreadable, truncated, or of the wrong kind."""


def _to_uint8_plane(image, channel, path):
    """Return the 2-D uint8 plane of ``channel`` held in the decoded ``image``."""
    mode = image.mode
    if mode == "L":
        return np.asarray(image, dtype=np.uint8)
    suffix = path.suffix.lower()
    if mode in ("I;16", "I;16B", "I;16L", "I") and suffix in IMAGE_EXTENSIONS["tif"]:
        # 16-bit full-size originals: scale 0..65535 to 0..255
        plane = np.asarray(image, dtype=np.float64)
        return np.clip(np.rint(plane / 257.0), 0, 255).astype(np.uint8)
    if mode == "RGB" and suffix in IMAGE_EXTENSIONS["jpg"]:
        weights = _COLOUR_PLANES[channel]
        rgb = np.asarray(image, dtype=np.float32)
        plane = rgb @ np.asarray(weights, dtype=np.float32)
        return np.clip(np.rint(plane), 0, 255).astype(np.uint8)
    raise ImageFileError(
        f"{path}: expected a single-channel 8-bit image (mode 'L')"
        + (" or an HPAv18 colour JPEG" if suffix in IMAGE_EXTENSIONS["jpg"] else "")
        + (" or a 16-bit TIFF" if suffix in IMAGE_EXTENSIONS["tif"] else "")
        + f", got mode {mode!r}. Re-export the channel as 8-bit greyscale."
    )


def read_channel(path, channel, size):
    """Decode the ``channel`` plane stored in ``path`` and resize it to ``size x size`` (uint8).

    Shrinking averages areas (Pillow's BOX filter); enlarging interpolates bilinearly. Raises
    :class:`ImageFileError` naming the file for a corrupt or truncated file, a file with the wrong
    pixel format, or an image that is not square.
    """
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(path) as image:
                image.load()
                width, height = image.size
                if width != height:
                    raise ImageFileError(
                        f"{path}: image is {width}x{height} px; HPA channels must be square. "
                        "Crop or pad it to a square first."
                    )
                plane = _to_uint8_plane(image, channel, path)
    except ImageFileError:
        raise
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
        raise ImageFileError(
            f"{path}: cannot decode the image ({type(exc).__name__}: {exc}); the file is corrupt "
            "or truncated. Re-download it, or pass missing='skip' after deleting it."
        ) from None
    if plane.shape[0] != size:
        resample = Image.Resampling.BOX if plane.shape[0] > size else Image.Resampling.BILINEAR
        plane = np.asarray(Image.fromarray(plane).resize((size, size), resample=resample))
    return plane
