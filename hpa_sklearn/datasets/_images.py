"""Decoding one stain channel from a file (Kaggle PNG, HPAv18 colour JPEG, full-size TIFF) and
resizing it. Pillow does the decoding and the area-averaging resize."""

import warnings
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

from ..exceptions import InputError

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


class ImageFileError(InputError):
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
        if weights.count(1.0) == 1 and weights.count(0.0) == 2:  # one plane: taken as it is
            return np.asarray(image.getchannel("RGB"[weights.index(1.0)]), dtype=np.uint8)
        if weights == (0.5, 0.5, 0.0):  # yellow: the mean of red and green, half to even
            twice = (np.asarray(image.getchannel("R"), dtype=np.uint16)
                     + np.asarray(image.getchannel("G"), dtype=np.uint16))
            half = twice >> 1
            return (half + (twice & half & 1)).astype(np.uint8)
        rgb = np.asarray(image, dtype=np.float32)  # pragma: no cover - no other weights
        plane = rgb @ np.asarray(weights, dtype=np.float32)
        return np.clip(np.rint(plane), 0, 255).astype(np.uint8)
    raise ImageFileError(
        f"{path}: expected a single-channel 8-bit image (mode 'L')"
        + (" or an HPAv18 colour JPEG" if suffix in IMAGE_EXTENSIONS["jpg"] else "")
        + (" or a 16-bit TIFF" if suffix in IMAGE_EXTENSIONS["tif"] else "")
        + f", got mode {mode!r}. Re-export the channel as 8-bit greyscale."
    )


def _claimed_size(path):
    """The ``(width, height)`` a file's header claims, read without Pillow's decompression-bomb
    check (that check is what failed); None where no reader recognises the header."""
    from PIL import JpegImagePlugin, PngImagePlugin, TiffImagePlugin

    for kind in (PngImagePlugin.PngImageFile, JpegImagePlugin.JpegImageFile,
                 TiffImagePlugin.TiffImageFile):
        try:
            with kind(path) as image:
                return image.size
        except Exception:  # noqa: BLE001 - not this format (or unreadable): try the next one
            continue
    return None


def _bomb_error(path, exc):
    size = _claimed_size(path)
    claimed = (
        f"{size[0]}x{size[1]} px ({size[0] * size[1] / 1e6:,.0f} megapixels)" if size
        else "more pixels"
    )
    limit = Image.MAX_IMAGE_PIXELS
    return ImageFileError(
        f"{path}: the image header claims {claimed}, beyond the decoding limit of "
        f"{limit / 1e6:,.0f} megapixels (Pillow's guard against decompression bombs); HPA "
        "channels are at most a few thousand pixels a side, so the file is corrupt or not an HPA "
        "image. Re-download or delete it (then missing='skip' drops its sample); if the image is "
        "genuine, raise PIL.Image.MAX_IMAGE_PIXELS before loading."
    )


def read_channel(path, channel, size, *, return_size=False):
    """Decode the ``channel`` plane stored in ``path`` and resize it to ``size x size`` (uint8).

    Shrinking averages areas (Pillow's BOX filter); enlarging interpolates bilinearly. A JPEG at
    least twice ``size`` is first reduced by the decoder itself (``Image.draft``: by 1/2, 1/4 or
    1/8, in the DCT domain, to the smallest of those sizes that is >= ``size``), then
    area-averaged: on the real HPAv18 files this differs from decoding every pixel by 0.1 to 2.1
    grey levels on average (a few tens at single pixels of high-contrast colour edges, where
    the full decode clips each pixel before averaging), several times faster. Raises
    :class:`ImageFileError` naming the file for a corrupt or truncated file, a file with the wrong
    pixel format, an image that is not square or whose header claims more pixels than Pillow's
    decompression-bomb limit; ``FileNotFoundError`` naming it for a file that has vanished. With
    ``return_size`` the result is ``(plane, (width, height))``, the size before resizing.
    """
    path = Path(path)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(path) as image:
                width, height = image.size
                if width != height:
                    raise ImageFileError(
                        f"{path}: image is {width}x{height} px; HPA channels must be square. "
                        "Crop or pad it to a square first."
                    )
                if image.format == "JPEG" and width >= 2 * size:
                    # the JPEG decoder scales by 1/2, 1/4 or 1/8 while decoding (DCT scaling),
                    # to the smallest of those sizes that is still >= size: several times
                    # faster than decoding every pixel of a 2048 px HPAv18 file. The BOX resize
                    # below then area-averages to size.
                    image.draft(image.mode, (size, size))
                image.load()
                plane = _to_uint8_plane(image, channel, path)
    except ImageFileError:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise _bomb_error(path, exc) from None
    except FileNotFoundError:
        raise FileNotFoundError(
            f"{path}: the channel file vanished while loading (deleted or moved after the folder "
            "was listed); restore it, or load again to skip or report it."
        ) from None
    except OSError as exc:
        if exc.errno is not None:  # the system refused the read (permissions, I/O error, ...)
            raise
        raise _decode_error(path, exc) from None
    except (UnidentifiedImageError, SyntaxError, ValueError) as exc:
        raise _decode_error(path, exc) from None
    if plane.shape[0] != size:
        resample = Image.Resampling.BOX if plane.shape[0] > size else Image.Resampling.BILINEAR
        plane = np.asarray(Image.fromarray(plane).resize((size, size), resample=resample))
    return (plane, (width, height)) if return_size else plane


def _decode_error(path, exc):
    return ImageFileError(
        f"{path}: cannot decode the image ({type(exc).__name__}: {exc}); the file is corrupt "
        "or truncated. Re-download it, or pass missing='skip' after deleting it."
    )
