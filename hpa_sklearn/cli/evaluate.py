"""``hpa-sklearn evaluate``: the evaluation report of a model folder on labelled data."""

import hashlib
from pathlib import Path

from .._io.ownership import check_output_folder
from ._base import FROM_MODEL, CommandError, keras_verbose, say
from ._data import add_data_options, input_paths, load
from ._model import (
    add_model_option,
    add_tta_option,
    open_model,
    set_prediction,
    thresholds_of,
)

HELP = "write the evaluation report"


def add_parser(subparsers):
    parser = subparsers.add_parser(
        "evaluate", help=HELP,
        description="Evaluate a model folder on labelled data: macro F1 with a bootstrap "
                    "confidence interval, per-class table, plots (an HTML report).")
    add_data_options(parser)
    add_model_option(parser)
    parser.add_argument("--out", required=True, metavar="FOLDER", help="report folder to write")
    parser.add_argument("--n-boot", type=int, default=1000, help="bootstrap replicates")
    parser.add_argument("--seed", type=int, default=0)
    add_tta_option(parser)
    parser.set_defaults(handler=run)


def trained_on(run, ids):
    """How many of ``ids`` the model was trained on, by its run record (0 when unknown)."""
    digest = (run or {}).get("training_ids")
    if not isinstance(digest, str) or not digest:
        return 0
    trained = {digest[i:i + 10] for i in range(0, len(digest), 10)}
    return sum(hashlib.sha1(str(i).encode()).hexdigest()[:10] in trained for i in ids)


def print_summary(report):
    s = report["summary"]
    columns = [key for key in ("0.5", "tuned") if key in s]
    heads = {"0.5": "threshold 0.5", "tuned": "tuned thresholds"}
    say(f"\n{'':24}" + "".join(f"{heads[k]:>24}" for k in columns))
    for key, label in (("macro_f1", "macro F1"), ("micro_f1", "micro F1")):
        say(f"{label:24}" + "".join(f"{s[k][key]:>24.4f}" for k in columns))
    ci = {k: "[{:.3f}, {:.3f}]".format(*s[k]["macro_f1_ci95"]) for k in columns}
    say(f"{'macro F1 95% CI':24}" + "".join(f"{ci[k]:>24}" for k in columns))
    say(f"{'BCE loss':24}{s['bce_loss']:>24.4f}")


def run(args):
    from ..report import write_report

    out = check_output_folder(args.out, kinds="report", option="--out", what="report folder",
                              inputs=input_paths(args, "data", "model"))
    model, image_size, channels, run_record = open_model(args.model)
    data = load(args, labels=args.labels, image_size=image_size, channels=channels,
                image_dir=args.image_dir)
    if data.target is None:
        raise CommandError(f"--labels {args.labels} has no Target column: evaluation needs "
                           "labels.")
    seen = trained_on(run_record, data.ids)
    if seen:
        say(f"warning: {seen:,} of the {len(data.ids):,} evaluated images are images the model "
            "was trained on: their scores are optimistic. Evaluate on a held-out part (a label "
            "CSV of other ids) for a fair figure.")
    set_prediction(model, verbose=keras_verbose())
    if args.tta is not FROM_MODEL:
        set_prediction(model, tta=args.tta)
    proba = model.predict_proba(data.images)
    report = write_report(out, data.target, proba, thresholds_of(model), images=data.images,
                          channels=channels, ids=data.ids, explain=model.explain,
                          history=getattr(model, "history_", None), n_boot=args.n_boot,
                          random_state=args.seed, title=f"Evaluation of {args.model}",
                          run={**run_record, "evaluated_on": str(Path(args.data).resolve()),
                               "n_evaluated": int(len(data.ids)), "trained_on_overlap": seen})
    print_summary(report)
    say(f"Report written to {out / 'index.html'}")
    return 0
