"""``hpa-sklearn explain``: where a model saw each class, for chosen images (a gallery PNG, the
heatmaps as .npy, and a small HTML and JSON)."""

from pathlib import Path

from .._engine.explain import METHODS
from .._io.ownership import check_output_folder
from ._base import FROM_MODEL, CommandError, choice, metavar, number, say
from ._data import add_data_options, data_folder, image_folder, input_paths, labels_file
from ._model import (
    add_model_option,
    add_tta_option,
    open_model,
    set_prediction,
    thresholds_of,
)

HELP = "show where a model sees each class in chosen images"


def add_parser(subparsers):
    parser = subparsers.add_parser(
        "explain", help=HELP,
        description="Heatmaps of where a model folder's network saw each class in chosen "
                    "images: by default their predicted and true classes, most probable first. "
                    "Writes gallery.png (each image in the HPA colours, its protein channel, a "
                    "heatmap per class), heatmaps.npy (n_images, n_classes, height, width), "
                    "explain.json (ids, classes of each heatmap, probabilities) and index.html.")
    add_data_options(parser)
    add_model_option(parser)
    chosen = parser.add_mutually_exclusive_group(required=True)
    chosen.add_argument("--ids", nargs="+", metavar="ID", help="the image ids to explain")
    chosen.add_argument("--ids-file", metavar="CSV",
                        help="a CSV whose Id column (or first column) lists the ids")
    parser.add_argument("--out", required=True, metavar="FOLDER",
                        help="folder to write: new, empty, or an earlier explain folder")
    parser.add_argument("--method", type=choice(METHODS), default="gradcam",
                        metavar=metavar(METHODS),
                        help="gradcam (fast) or occlusion (model-agnostic, ~230 forward passes "
                             "per image) (default: %(default)s)")
    parser.add_argument("--classes", nargs="+", metavar="CLASS", default=None,
                        help="class ids or names (quoted when they hold spaces) to explain in "
                             "every image (default: each image's true classes, then its other "
                             "predicted ones)")
    parser.add_argument("--max-classes", type=number(int, 1), default=4,
                        help="most classes per image without --classes (default: %(default)s)")
    add_tta_option(parser)
    parser.set_defaults(handler=run)


def _ids_from_file(text):
    from ..datasets._csv import read_csv

    path = Path(text)
    if not path.is_file():
        raise CommandError(f"the ids file --ids-file {text} was not found.")
    table = read_csv(path, expected="'Id'")
    column = "Id" if "Id" in table.header else table.header[0]
    ids = [value.strip() for value in table.column(column) if value.strip()]
    if not ids:
        raise CommandError(f"--ids-file {text} lists no ids (column {column!r}).")
    return ids


def _classes(values):
    """--classes values: ints stay ids, anything else is a name (checked by explain)."""
    return [int(v) if v.strip().lstrip("-").isdigit() else v for v in values]


def _load(args, ids, image_size, channels):
    from ..datasets import load_hpa
    from ..datasets._kaggle import read_label_csv

    folder = data_folder(args.data)
    csv = labels_file(args.labels, folder)
    known = set(read_label_csv(csv)[0])
    unknown = [i for i in ids if i not in known]
    if unknown:
        raise CommandError(f"{len(unknown)} of the ids are not in {csv} (e.g. "
                           f"{', '.join(unknown[:3])}); give --labels the CSV that lists them "
                           "(sample_submission.csv for test images).")
    images = image_folder(args.image_dir, folder)
    try:
        return load_hpa(folder, labels=csv.resolve(), ids=ids,
                        image_dir=None if images is None else images.resolve(),
                        image_size=image_size, channels=channels,
                        missing="skip" if args.skip_missing else "raise", n_jobs=args.n_jobs,
                        cache_dir=args.cache_dir, verbose=0)
    except FileNotFoundError as exc:
        raise CommandError(str(exc)) from None


def run(args):
    import numpy as np

    from .._constants import CLASS_NAMES
    from .._decision import apply_thresholds
    from .._engine.explain import check_classes
    from .._io import atomic
    from .._io.ownership import replaceable, write_marker
    from ..report._gallery import gallery_page, listed_classes, plot_gallery

    inputs = input_paths(args, "data", "model", "ids_file")
    out = check_output_folder(args.out, kinds="explain", option="--out",
                              what="explanation folder", inputs=inputs)
    ids = list(dict.fromkeys(args.ids if args.ids else _ids_from_file(args.ids_file)))
    model, image_size, channels, _ = open_model(args.model)
    asked = None if args.classes is None else _classes(args.classes)
    if asked is not None:
        asked = check_classes(asked, len(CLASS_NAMES), 1)[0].tolist()  # errors before loading
    data = _load(args, ids, image_size, channels)
    set_prediction(model, verbose=0)
    if args.tta is not FROM_MODEL:
        set_prediction(model, tta=args.tta)
    X = np.asarray(data.images)
    proba = model.predict_proba(X)
    thresholds = thresholds_of(model)
    predicted = [np.flatnonzero(r).tolist() for r in apply_thresholds(proba, thresholds)]
    true = None if data.target is None else [np.flatnonzero(r).tolist() for r in data.target]
    if asked is not None:
        shown = [list(asked) for _ in ids]
    else:  # the true classes (right, then missed), then the false positives
        shown = [listed_classes(set(true[i]) if true else set(), set(p), proba[i])
                 [:args.max_classes] or [int(np.argmax(proba[i]))]
                 for i, p in enumerate(predicted)]
    width = max(len(s) for s in shown)
    slots = np.array([s + [-1] * (width - len(s)) for s in shown])
    say(f"Explaining {len(ids)} image(s) with {args.method} ({width} class(es) each)")
    heatmaps = model.explain(X, np.where(slots < 0, 0, slots), method=args.method)
    heatmaps[slots < 0] = 0.0  # empty slots
    examples = {"ids": [str(i) for i in data.ids], "true": true, "predicted": predicted,
                "shown": slots.tolist(), "proba": [[round(float(v), 4) for v in row]
                                                   for row in proba]}
    record = {**examples, "method": args.method, "model": str(Path(args.model).resolve()),
              "data": str(Path(args.data).resolve()), "channels": list(channels),
              "image_size": image_size, "class_names": list(CLASS_NAMES),
              "thresholds": np.broadcast_to(np.asarray(thresholds, float),
                                            (len(CLASS_NAMES),)).round(6).tolist(),
              "heatmaps": {"file": "heatmaps.npy", "shape": list(heatmaps.shape),
                           "dtype": "float32", "axes": ["image", "class slot", "y", "x"],
                           "classes": "'shown': the class id of each slot (-1: empty slot)",
                           "units": ("Grad-CAM, each map divided by its maximum"
                                     if args.method == "gradcam" else
                                     "drop of the class's probability when the area is "
                                     "covered")}}
    with atomic.atomic_folder(out, replaceable=replaceable("explain")) as tmp:
        with atomic.atomic_path(tmp / "heatmaps.npy") as path, open(path, "wb") as handle:
            np.save(handle, heatmaps)
        plot_gallery(X, channels, examples, CLASS_NAMES, tmp / "gallery.png",
                     heatmaps=heatmaps, max_classes=max(width, 4), method=args.method)
        atomic.atomic_write_json(tmp / "explain.json", record, indent=1)
        atomic.atomic_write_text(tmp / "index.html", gallery_page(
            f"Where {Path(args.model).name} sees each class ({args.method})", "gallery.png",
            examples, CLASS_NAMES, method=args.method,
            notes=[f"Model {args.model}, images from {args.data}.",
                   ("Bright = where the evidence for the class is strongest; see "
                    "docs/explanations.md for what the maps mean and their limits.")]))
        write_marker(tmp, "explain")
    say(f"Explanations written to {out}: gallery.png, heatmaps.npy {tuple(heatmaps.shape)}, "
        "explain.json, index.html")
    return 0
