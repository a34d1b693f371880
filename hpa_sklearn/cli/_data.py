"""The data options of the commands (``--data``, ``--labels``, ``--image-dir``, ...), where their
paths are looked for, and loading through :func:`~hpa_sklearn.datasets.load_hpa` with messages in
the command line's terms.

A relative ``--labels`` or ``--image-dir`` is taken from the current folder first, then from
``--data``; a missing image folder is reported as that folder, with the folders nearby that hold
``{Id}_{channel}.png`` files.
"""

import os
import re
from pathlib import Path

from ._base import CommandError, in_cli_terms

_IMAGE_FILE = re.compile(r"_(red|green|blue|yellow)\.(png|jpe?g|tiff?)$", re.IGNORECASE)


def add_data_options(parser, *, labels="train.csv"):
    group = parser.add_argument_group("data")
    group.add_argument("--data", default=".", metavar="FOLDER",
                       help="the data folder (Kaggle layout: train.csv, train/, test/, "
                            "sample_submission.csv; default: the current folder)")
    if labels is not None:
        group.add_argument("--labels", default=labels, metavar="CSV",
                           help="the label CSV: a path, or a name inside --data "
                                "(default: %(default)s)")
    group.add_argument("--image-dir", default=None, metavar="FOLDER",
                       help="the folder of the {Id}_{channel}.png files: a path, or a name "
                            "inside --data (default: train/ or test/ in --data, or --data itself)")
    group.add_argument("--skip-missing", action="store_true",
                       help="drop samples with missing channel files (with a warning) instead of "
                            "stopping")
    group.add_argument("--n-jobs", type=int, default=-1, help="decoding processes (default: all "
                                                              "cores)")
    group.add_argument("--cache-dir", default=None, metavar="FOLDER",
                       help="decoded-image cache (default: $HPA_SKLEARN_CACHE or "
                            "~/.cache/hpa_sklearn)")
    return group


def data_folder(text, option="--data"):
    folder = Path(text)
    if not folder.exists():
        raise CommandError(f"the data folder {option} {text} does not exist.")
    if not folder.is_dir():
        raise CommandError(f"{option} {text} is a file; give the folder that holds the label CSV "
                           "and the images.")
    return folder


def find_path(text, data, *, option, what, folder=False):
    """``text`` as given (from the current folder), else inside ``data``; None when neither
    exists."""
    given = Path(text)
    candidates = [given] if given.is_absolute() else [given, data / given]
    for candidate in candidates:
        if (candidate.is_dir() if folder else candidate.is_file()):
            return candidate
    return None


def _places_looked(text, data):
    """Where :func:`find_path` looked for ``text``, each place once."""
    given = Path(text)
    if given.is_absolute() or (data / given).resolve() == given.resolve():
        return [str(given)]
    return [f"{given} (from the current folder)", str(data / given)]


def labels_file(text, data, option="--labels"):
    found = find_path(text, data, option=option, what="label file")
    if found is None:
        places = _places_looked(text, data)
        csvs = sorted(p.name for p in data.glob("*.csv"))[:6]
        hint = (f"; {data} holds {', '.join(csvs)}" if csvs else f"; {data} holds no CSV file")
        raise CommandError(f"the label file {option} {text} was not found (looked for "
                           f"{' and '.join(places)}){hint}. Give {option} the CSV of the ids "
                           "and labels.")
    return found


def _image_folders_near(data, limit=4):
    """Folders in and just below ``data`` that hold channel image files."""
    found = []
    candidates = [data, *sorted(p for p in data.iterdir() if p.is_dir())] if data.is_dir() else []
    for folder in candidates:
        try:
            with os.scandir(folder) as entries:
                if any(_IMAGE_FILE.search(e.name) for e in entries if e.is_file()):
                    found.append(folder)
        except OSError:
            continue
        if len(found) >= limit:
            break
    return found


def image_folder(text, data, option="--image-dir"):
    if text is None:
        return None
    found = find_path(text, data, option=option, what="image folder", folder=True)
    if found is None:
        places = _places_looked(text, data)
        raise CommandError(f"the image folder {option} {text} was not found (looked for "
                           f"{' and '.join(places)}){_suggest(data)}")
    return found


def _suggest(data):
    near = _image_folders_near(data)
    if near:
        return (f"; folders holding {{Id}}_{{channel}} image files: "
                f"{', '.join(str(p) for p in near)}. Give one as --image-dir.")
    return ". Give --image-dir the folder of the {Id}_{channel}.png files."


def load(args, *, labels, image_size, channels, image_dir=None, data=None, option="--data",
         labels_option="--labels", image_option="--image-dir"):
    """Load the images of ``labels`` (resolved as above) at ``image_size``; errors in the command
    line's terms."""
    from ..datasets import load_hpa

    folder = data_folder(args.data if data is None else data, option)
    csv = labels_file(labels, folder, labels_option)
    images = image_folder(image_dir, folder, image_option)
    try:
        return load_hpa(folder, labels=csv.resolve(),
                        image_dir=None if images is None else images.resolve(),
                        image_size=image_size, channels=channels,
                        missing="skip" if args.skip_missing else "raise", n_jobs=args.n_jobs,
                        cache_dir=args.cache_dir, verbose=1)
    except FileNotFoundError as exc:
        message = in_cli_terms(str(exc))
        if "no image folder holding" in message:
            message = (f"no image folder found for {csv.name}: neither "
                       f"{folder / ('train' if 'sample' not in csv.name else 'test')} nor "
                       f"{folder} holds its images{_suggest(folder)}")
        raise CommandError(message) from None


def input_paths(args, *names):
    """The resolved input paths of a command's options (for the rule that no output replaces an
    input)."""
    paths = []
    for name in names:
        value = getattr(args, name, None)
        if value is not None:
            paths.append(Path(value))
    return paths
