"""Reader and writer of the Kaggle HPA folder layout: a label CSV (``Id,Target``, or a template
``Id,Predicted``) and an image folder of ``{Id}_{channel}.png`` files (HPAv18 ``.jpg`` and
full-size ``.tif`` too)."""

import numbers
import os
import re
from pathlib import Path

import numpy as np
from joblib import Parallel, delayed
from PIL import Image
from sklearn.utils import Bunch
from tqdm.auto import tqdm

from .._io.atomic import atomic_path, atomic_write_text
from ._cache import CACHE_CHECKS, cached_array, start_writeback
from .._constants import CHANNELS, CLASS_NAMES, MIN_IMAGE_SIZE, N_CLASSES
from ._csv import check_unique, csv_text, parse_label_column, read_csv
from ._images import AUTO_ORDER, IMAGE_EXTENSIONS, ImageFileError, read_channel
from ._labels import indicator_to_labels
from ..exceptions import InputError
from .._warnings import warn

_HPAV18_ID = re.compile(r"^\d+_(.+)$")  # "11088_89_B5_1" is stored as "89_B5_1_{colour}.jpg"


def _check_channels(channels):
    if isinstance(channels, str):
        channels = (channels,)
    channels = tuple(channels)
    unknown = [c for c in channels if c not in CHANNELS]
    if not channels or unknown or len(set(channels)) != len(channels):
        raise InputError(
            f"channels must be distinct names among {CHANNELS}; got {channels!r}."
        )
    return channels


def _check_image_size(image_size):
    if (
        not isinstance(image_size, numbers.Integral)
        or isinstance(image_size, bool)
        or image_size < MIN_IMAGE_SIZE
    ):
        raise InputError(
            f"image_size must be an integer >= {MIN_IMAGE_SIZE} (the smallest input VGG16 "
            f"takes); got {image_size!r}."
        )
    return int(image_size)


def check_id(sample_id, where):
    if (
        not sample_id
        or sample_id in (".", "..")
        or "/" in sample_id
        or "\\" in sample_id
        or '"' in sample_id
        or not sample_id.isprintable()
        or sample_id != sample_id.strip()
    ):
        raise InputError(
            f"{where}: Id {sample_id!r} is not a plain file-name stem (it is empty, has a path "
            "separator, a quote, surrounding spaces or control characters, or would escape the "
            "image folder); fix the CSV."
        )


def check_ids(ids, table):
    """:func:`check_id` on every id of a CSV column, with a fast path for the valid case."""
    joined = "".join(ids)
    if (
        joined.isprintable()
        and "/" not in joined
        and "\\" not in joined
        and '"' not in joined
        and not {"", ".", ".."}.intersection(ids)
        and all(sample_id == sample_id.strip() for sample_id in ids)
    ):
        return
    for i, sample_id in enumerate(ids):
        check_id(sample_id, table.where(i))


def read_label_csv(csv_path):
    """Read a Kaggle label CSV; return ``(ids, Y)`` where ``Y`` is None for a ``Id,Predicted``
    template (e.g. ``sample_submission.csv``). Every problem is reported with its file and line.

    The file is read strictly (see ``_csv.read_csv``): UTF-8 with a header, every row with the
    header's number of fields (``a,1,`` is an error, not a shifted row)."""
    csv_path = Path(csv_path)
    if not csv_path.is_file():
        raise FileNotFoundError(f"label file not found: {csv_path}")
    table = read_csv(csv_path, expected="'Id,Target'")
    if "Id" not in table.header:
        raise InputError(
            f"{csv_path}: no 'Id' column (columns: {table.header}); expected 'Id,Target' "
            "or 'Id,Predicted'."
        )
    if not table.rows:
        raise InputError(f"{csv_path}: the file has a header but no rows.")
    id_list = table.column("Id")
    check_ids(id_list, table)
    check_unique(id_list, table)
    ids = np.array(id_list, dtype=object)
    if "Target" not in table.header:
        if "Predicted" in table.header:
            # a template's cells are not used, but must be labels (or empty): anything else
            # means a damaged file, whose Ids cannot be trusted either
            parse_label_column(table, "Predicted", allow_empty=True)
            return ids, None
        raise InputError(
            f"{csv_path}: no 'Target' (labels) or 'Predicted' (template) column; columns: "
            f"{table.header}."
        )
    return ids, parse_label_column(table, "Target")


def resolve_csv(path, labels):
    labels = Path(labels)
    if not labels.is_absolute() and (Path(path) / labels).is_file():
        return Path(path) / labels
    if labels.is_file():
        return labels
    raise FileNotFoundError(
        f"label file {str(labels)!r} not found in {path} nor as a path; pass labels= the CSV "
        "('train.csv', 'sample_submission.csv', ...)."
    )


def _scan(folder):
    with os.scandir(folder) as entries:
        return {entry.name: entry for entry in entries if entry.is_file()}


def _find_file(files, sample_id, channel, formats):
    for fmt in formats:
        stems = [sample_id]
        if fmt == "jpg":
            match = _HPAV18_ID.match(sample_id)
            if match:
                stems.append(match.group(1))
        for stem in stems:
            for ext in IMAGE_EXTENSIONS[fmt]:
                for name in (f"{stem}_{channel}{ext}", f"{stem}_{channel}{ext.upper()}"):
                    if name in files:
                        return files[name]
    return None


# how many ids of the CSV _resolve_image_dir looks at to recognise the image folder
_PROBE_IDS = 500


def _resolve_image_dir(path, image_dir, labelled, ids, formats):
    """Return ``(folder, files)``: the image folder and its scan (file name -> entry).

    Without ``image_dir``, the folder is the first candidate holding the green file of one of
    the first ``_PROBE_IDS`` ids (not only of the first: with ``missing="skip"`` the first
    samples may lack their files). Each candidate folder is scanned once.
    """
    path = Path(path)
    if image_dir is not None:
        folder = Path(image_dir)
        folder = folder if folder.is_absolute() else path / folder
        if not folder.is_dir():
            raise FileNotFoundError(f"image folder not found: {folder}")
        return folder, _scan(folder)
    probe = list(ids[:_PROBE_IDS])
    candidates = [path / ("train" if labelled else "test"), path]
    for folder in candidates:
        if not folder.is_dir():
            continue
        files = _scan(folder)
        if any(_find_file(files, sample_id, CHANNELS[1], formats) for sample_id in probe):
            return folder, files
    first = f"{probe[0]}_green.*" if len(probe) == 1 else (
        f"{probe[0]}_green.* ... {probe[-1]}_green.* (the first {len(probe)} ids of the CSV)"
    )
    raise FileNotFoundError(
        f"no image folder holding any of {first} found; tried {[str(c) for c in candidates]}. "
        "Pass image_dir= the folder of the {Id}_{channel}.png files."
    )


def _check_same_size(channels, row_paths, sizes):
    """The channels of one sample must share a size: one resized silently would misalign the
    stains (a thumbnail among full-size files, a file of another sample)."""
    if len(set(sizes)) <= 1:
        return
    first = Path(row_paths[0])
    stem = first.name[: -len(first.suffix)] if first.suffix else first.name
    sample = stem[: -len(channels[0]) - 1] if stem.endswith(f"_{channels[0]}") else stem
    listing = ", ".join(
        f"{channel} {w}x{h} ({Path(file_path).name})"
        for channel, file_path, (w, h) in zip(channels, row_paths, sizes)
    )
    raise ImageFileError(
        f"Id {sample!r}: its channel files differ in size: {listing}, in {first.parent}. The "
        "channels of a sample must have the same size; re-download or re-export the odd file(s)."
    )


def _decode_rows(array_path, rows, paths, channels, size):
    """Worker: decode the files of ``rows`` and write them into the ``.npy`` at ``array_path``.

    Raises the library's errors (:class:`ImageFileError` for a bad file or channels of unequal
    sizes, ``FileNotFoundError`` for a vanished one), which joblib hands to the caller as they are.
    """
    out = np.load(array_path, mmap_mode="r+")
    for row, row_paths in zip(rows, paths):
        planes, sizes = [], []
        for channel, file_path in zip(channels, row_paths):
            plane, original = read_channel(Path(file_path), channel, size, return_size=True)
            planes.append(plane)
            sizes.append(original)
        _check_same_size(channels, row_paths, sizes)
        for c, plane in enumerate(planes):
            out[row, :, :, c] = plane
    # No msync (np.memmap.flush) here, which made the worker wait for the disk (13% of the time
    # of a 512 px load, where decoding is cheap): the mapping is shared, so the rows written are
    # in the file's page cache, which every later reader sees. Their writeback is started and
    # left to run while the next rows decode; the cache syncs the whole file once, before
    # publishing it.
    offset, row_bytes = out.offset, out[0].nbytes if len(out) else 0
    del out
    if rows:
        start_writeback(array_path, offset + min(rows) * row_bytes,
                        (max(rows) - min(rows) + 1) * row_bytes)
    return len(rows)


def _decode_all(array_path, paths, channels, size, n_jobs, verbose):
    n = len(paths)
    n_workers = 1 if n_jobs in (None, 1) else os.cpu_count() if n_jobs == -1 else int(n_jobs)
    chunk = int(np.clip(n // max(1, 8 * n_workers), 1, 64))
    starts = range(0, n, chunk)
    tasks = (
        delayed(_decode_rows)(
            array_path, list(range(s, min(s + chunk, n))), paths[s : s + chunk], channels, size
        )
        for s in starts
    )
    with tqdm(total=n, unit="img", desc="decoding", disable=not verbose) as bar:
        for done in Parallel(n_jobs=n_workers, return_as="generator_unordered")(tasks):
            bar.update(done)


def load_hpa(
    path,
    *,
    labels="train.csv",
    image_dir=None,
    ids=None,
    image_size=512,
    channels=CHANNELS,
    image_format="auto",
    missing="raise",
    n_jobs=None,
    cache=True,
    cache_dir=None,
    cache_check="stat",
    verbose=1,
    return_X_y=False,
):
    """Load HPA images in the Kaggle layout as a uint8 array, with their labels.

    Reads the label CSV (``Id,Target`` with space-separated class ids, or a template such as
    ``sample_submission.csv`` with ``Id,Predicted`` and no labels), decodes every
    ``{Id}_{channel}`` file in parallel, resizes it to ``image_size`` (area averaging when
    shrinking) and stacks the channels last. The result is cached on disk as a memory-mappable
    ``.npy`` keyed by the ids, size, channels and the source files' sizes and modification times,
    so a second load of the same request returns at once without decoding anything.

    Parameters
    ----------
    path : str or Path
        The data folder (the one holding ``train.csv`` and ``train/``).
    labels : str or Path, default="train.csv"
        The label CSV, relative to ``path`` or as a path of its own.
    image_dir : str or Path, default=None
        The image folder, relative to ``path`` or absolute. By default ``path/train`` for a label
        file, ``path/test`` for a template, else ``path`` itself, whichever holds the images.
    ids : sequence of str, default=None
        Load only these ids of the CSV, in this order.
    image_size : int, default=512
        Side of the square output images, >= 32 (VGG16's smallest input).
    channels : sequence of str, default=("red", "green", "blue", "yellow")
        Which channels to load, in this order (the last axis of the array).
    image_format : {"auto", "png", "jpg", "tif"}, default="auto"
        File type. ``"auto"`` takes, per file, the first of Kaggle PNG, HPAv18 colour JPEG (the
        stain's colour plane is taken; HPAv18 ids such as ``11088_89_B5_1`` also match files named
        ``89_B5_1_{colour}.jpg``) and full-size TIFF (8 or 16 bit) that exists.
    missing : {"raise", "skip"}, default="raise"
        What to do with a sample whose channel file is absent: raise an error naming it, or drop
        the sample with one warning that counts the dropped samples.
    n_jobs : int, default=None
        Decoding processes; None means 1, -1 all cores.
    cache : bool, default=True
        Keep the decoded array on disk and memory-map it (the returned ``images`` is then a
        read-only ``np.memmap``). With False the array is decoded through a temporary file,
        returned in memory, and nothing is kept.
    cache_dir : str or Path, default=None
        Where the cache lives: ``$HPA_SKLEARN_CACHE``, else ``~/.cache/hpa_sklearn``. Never the
        data folder, which may be read-only. The space the array needs is checked, and reserved,
        before decoding. A folder that cannot be written gives a warning and a temporary file
        instead (removed when the array is released; nothing is kept). Entries of the same
        request made stale by changed source files are evicted when the new one is written; see
        :func:`cache_entries` and :func:`clear_cache`.
    cache_check : {"stat", "content"}, default="stat"
        What of the source files the cache key covers. ``"stat"``: name, size and modification
        time (one ``stat`` per file). ``"content"``: name, size and a SHA-256 of the bytes, which
        also catches a file rewritten with the same size and time, but reads every source file
        in full on every call, cache hits included (``n_jobs`` threads).
    verbose : int, default=1
        Show a progress bar while decoding (0: silent).
    return_X_y : bool, default=False
        Return ``(images, target)`` instead of the Bunch.

    Returns
    -------
    data : :class:`~sklearn.utils.Bunch`
        ``images`` uint8 ``(n, image_size, image_size, len(channels))``; ``target`` uint8 0/1
        ``(n, 28)``, or None for a template; ``ids`` (object array of str); ``target_names`` (the
        28 class names); ``channels``; ``DESCR``.

    Raises
    ------
    FileNotFoundError
        The CSV, the image folder, or (with ``missing="raise"``) a channel file does not exist.
    ValueError
        A malformed CSV (empty, duplicate or unsafe Id, bad Target, class id outside 0..27), an
        image that is corrupt, not square or not single-channel 8-bit, or a bad argument.
    OSError
        No room for the array: ``CacheSpaceError`` (an ``OSError`` with ``errno`` ENOSPC, or
        EFBIG for a file-size limit) naming the folder and the bytes needed and free, raised
        before anything is decoded and leaving nothing behind.

    See Also
    --------
    make_hpa_like : The embedded synthetic data, with the same Bunch keys.
    write_kaggle_layout : Write images and labels in this layout.

    Examples
    --------
    >>> import tempfile
    >>> from hpa_sklearn.datasets import load_hpa, make_hpa_like, write_kaggle_layout
    >>> folder = tempfile.mkdtemp()
    >>> demo = make_hpa_like(n_samples=4, image_size=32, random_state=0)
    >>> _ = write_kaggle_layout(folder, demo.images, demo.ids, demo.target)
    >>> data = load_hpa(folder, image_size=32, cache_dir=folder + "/cache", verbose=0)
    >>> data.images.shape, data.target.shape
    ((4, 32, 32, 4), (4, 28))
    >>> bool((data.images == demo.images).all())
    True
    """
    image_size = _check_image_size(image_size)
    channels = _check_channels(channels)
    if image_format not in ("auto", *IMAGE_EXTENSIONS):
        raise InputError(
            f"image_format must be 'auto', 'png', 'jpg' or 'tif'; got {image_format!r}."
        )
    if missing not in ("raise", "skip"):
        raise InputError(f"missing must be 'raise' or 'skip'; got {missing!r}.")
    if cache_check not in CACHE_CHECKS:
        raise InputError(f"cache_check must be 'stat' or 'content'; got {cache_check!r}.")
    formats = AUTO_ORDER if image_format == "auto" else (image_format,)

    csv_path = resolve_csv(path, labels)
    all_ids, Y = read_label_csv(csv_path)
    if ids is not None:
        position = {sample_id: i for i, sample_id in enumerate(all_ids)}
        wanted = [str(i) for i in ids]
        unknown = [i for i in wanted if i not in position]
        if unknown:
            raise InputError(
                f"{len(unknown)} of the requested ids are not in {csv_path}, e.g. {unknown[:3]}."
            )
        rows = np.array([position[i] for i in wanted], dtype=np.intp)
        all_ids = all_ids[rows]
        Y = None if Y is None else Y[rows]

    folder, files = _resolve_image_dir(path, image_dir, Y is not None, all_ids, formats)
    paths, stats, keep, absent = [], [], [], []
    for i, sample_id in enumerate(all_ids):
        entries = [_find_file(files, sample_id, channel, formats) for channel in channels]
        lost = [c for c, e in zip(channels, entries) if e is None]
        if lost:
            absent.append((sample_id, lost))
            continue
        keep.append(i)
        paths.append([e.path for e in entries])
        stats.append([(e.name, e.stat().st_size, e.stat().st_mtime_ns) for e in entries])
    if absent:
        sample_id, lost = absent[0]
        if missing == "raise":
            raise FileNotFoundError(
                f"{len(absent)} sample(s) lack channel files in {folder}; e.g. Id {sample_id!r} has "
                f"no {', '.join(lost)} file ({sample_id}_{lost[0]}.{formats[0]}). Restore the files "
                "or pass missing='skip' to drop such samples."
            )
        warn(
            f"skipped {len(absent)} of {len(all_ids)} samples with missing channel files in "
            f"{folder} (e.g. {sample_id!r} lacks {', '.join(lost)}).",
            UserWarning,
        )
        if not keep:
            raise FileNotFoundError(f"no sample of {csv_path} has all its channel files in {folder}.")
        all_ids = all_ids[keep]
        Y = None if Y is None else Y[keep]

    shape = (len(all_ids), image_size, image_size, len(channels))
    request = {
        "folder": str(folder.resolve()),
        "ids": list(all_ids),
        "image_size": image_size,
        "channels": list(channels),
        "files": stats,
    }
    images = cached_array(
        request,
        shape,
        lambda array_path: _decode_all(array_path, paths, channels, image_size, n_jobs, verbose),
        paths=paths,
        cache=cache,
        cache_dir=cache_dir,
        check=cache_check,
        source=csv_path,
        n_jobs=n_jobs,
        verbose=verbose,
    )

    if return_X_y:
        return images, Y
    return Bunch(
        images=images,
        target=Y,
        ids=np.asarray(all_ids, dtype=object),
        target_names=list(CLASS_NAMES),
        channels=list(channels),
        DESCR=(
            f"Human Protein Atlas images from {folder} with labels from {csv_path}: "
            f"{shape[0]} samples, {image_size}x{image_size} px, channels {', '.join(channels)}."
        ),
    )


def write_kaggle_layout(path, images, ids, target=None, *, channels=CHANNELS, labels_file=None,
                        image_dir=None, verbose=0):
    """Write images (and labels) in the Kaggle layout that :func:`load_hpa` reads.

    Parameters
    ----------
    path : str or Path
        The data folder to write into (created if needed).
    images : uint8 array of shape (n, size, size, len(channels))
    ids : sequence of str
        One file-name-safe id per image.
    target : 0/1 array of shape (n, 28), default=None
        Labels, written as ``Id,Target``. Without them a template ``Id,Predicted`` is written
        (like ``sample_submission.csv``).
    channels : sequence of str, default=("red", "green", "blue", "yellow")
        The channel names of the last axis of ``images``.
    labels_file, image_dir : str, default=None
        Names inside ``path``; by default ``train.csv`` and ``train/`` with labels, and
        ``sample_submission.csv`` and ``test/`` without.
    verbose : int, default=0
        Show a progress bar.

    Returns
    -------
    csv_path : Path
        The label (or template) CSV written.
    """
    channels = _check_channels(channels)
    images = np.asarray(images)
    if images.ndim != 4 or images.shape[-1] != len(channels) or images.dtype != np.uint8:
        raise InputError(
            f"images must be uint8 of shape (n, size, size, {len(channels)}); got {images.dtype} "
            f"{images.shape}."
        )
    ids = [str(i) for i in ids]
    if len(ids) != len(images):
        raise InputError(f"got {len(ids)} ids for {len(images)} images.")
    for i, sample_id in enumerate(ids):
        check_id(sample_id, f"ids[{i}]")
    if len(set(ids)) != len(ids):
        raise InputError("ids must be unique.")
    labelled = target is not None
    if labelled:
        target = np.asarray(target)
        if target.shape != (len(ids), N_CLASSES):
            raise InputError(f"target must have shape ({len(ids)}, {N_CLASSES}); got {target.shape}.")
        empty = np.flatnonzero(target.sum(axis=1) == 0)
        if empty.size:
            raise InputError(
                f"target row {empty[0]} (Id {ids[empty[0]]!r}) has no label; every HPA sample has one."
            )
    labels_file = labels_file or ("train.csv" if labelled else "sample_submission.csv")
    folder = Path(path) / (image_dir or ("train" if labelled else "test"))
    folder.mkdir(parents=True, exist_ok=True)
    for sample_id, image in zip(tqdm(ids, desc="writing", unit="img", disable=not verbose), images):
        for c, channel in enumerate(channels):
            # under a temporary name, renamed when complete: never half a PNG (durable=False:
            # one sync per image would make writing thousands of them crawl). Not marked as the
            # library's: a data set is the user's input, never an output to replace
            with atomic_path(folder / f"{sample_id}_{channel}.png", durable=False,
                             mark=False) as tmp:
                Image.fromarray(image[:, :, c]).save(tmp, format="PNG")
    if labelled:
        header, cells = ["Id", "Target"], indicator_to_labels(target)
    else:
        header, cells = ["Id", "Predicted"], ["0"] * len(ids)
    csv_path = Path(path) / labels_file
    atomic_write_text(csv_path, csv_text(header, zip(ids, cells)), mark=False)
    return csv_path
