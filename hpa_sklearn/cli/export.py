"""``hpa-sklearn export``: a model folder as one ONNX model or TensorFlow SavedModel that takes the
raw image array, with its metadata, for use outside Python."""

from .._engine.export import FORMATS, check_export_options
from .._io.ownership import check_output_folder
from ._base import FROM_MODEL, choice, metavar, say
from ._model import add_model_option, add_tta_option, open_model

HELP = "export a model for use outside Python (ONNX, SavedModel)"


def add_parser(subparsers):
    parser = subparsers.add_parser(
        "export", help=HELP,
        description="Write a model folder as one graph that takes the raw uint8 image array "
                    "(channel selection, resizing and normalization inside) and returns the 28 "
                    "probabilities, with hpa-sklearn-export.json beside it (class names, "
                    "thresholds, input contract, file digests). Load it with "
                    "hpa_sklearn.load_exported, or with onnxruntime from any language.")
    add_model_option(parser)
    parser.add_argument("--format", type=choice(FORMATS), default="onnx",
                        metavar=metavar(FORMATS),
                        help="onnx: model.onnx for onnxruntime; saved_model: a TensorFlow "
                             "SavedModel folder (default: %(default)s)")
    parser.add_argument("--out", required=True, metavar="FOLDER",
                        help="folder to write: new, empty, or an earlier export (replaced)")
    add_tta_option(parser, help="test-time augmentation folded into the graph (default: the "
                             "model's own setting)")
    parser.set_defaults(handler=run)


def run(args):
    from .._export import export_model

    tta = "model" if args.tta is FROM_MODEL else args.tta
    check_export_options(args.format, tta)  # a missing package: before loading anything
    out = check_output_folder(args.out, kinds="export", option="--out", what="export folder",
                              inputs=[args.model])
    model, _, _, run_record = open_model(args.model)
    path = export_model(model, out, format=args.format, tta=tta, run=run_record or None)
    from .._export import load_exported

    exported = load_exported(path)  # the folder reads back: checked like any other
    contract = exported.metadata["input"]
    say(f"Exported the model as {args.format} to {path}: input {contract['dtype']} images "
        f"(n, {', '.join(str(s) for s in contract['shape'][1:])}), channels "
        f"{','.join(contract['channels'])}; {len(exported.class_names)} probabilities; "
        f"test-time augmentation {exported.metadata['tta'] or 'none'}. Metadata: "
        f"{path / 'hpa-sklearn-export.json'}")
    return 0
