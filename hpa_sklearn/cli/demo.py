"""``hpa-sklearn demo``: the whole job on the embedded HPA-like data (generate, split 64/16/20,
train the default recipe, tune per-class thresholds, evaluate, report, save, submit)."""

import time

import numpy as np

from .._io.ownership import check_output_folder
from ..recipes import RECIPES
from ._base import choice, duration, keras_verbose, metavar, number, say
from ._training import DEFAULT_RECIPE

HELP = "the whole job on the embedded synthetic data"
# seconds of training when neither --epochs nor --time-budget is given
DEFAULT_BUDGET = 360


def add_parser(subparsers):
    parser = subparsers.add_parser(
        "demo", help=HELP,
        description="Generate HPA-like synthetic data, split it 64/16/20 (multilabel-"
                    "stratified), train the default recipe from scratch (no download), tune "
                    "per-class thresholds on the "
                    "validation part, evaluate on the test part and write a report, a model "
                    "folder and a submission-style CSV.")
    parser.add_argument("--out", default="hpa-sklearn-output/demo", metavar="FOLDER",
                        help="output folder, written whole at the end (default: %(default)s)")
    parser.add_argument("--recipe", type=choice(RECIPES), default=DEFAULT_RECIPE,
                        metavar=metavar(RECIPES), help="default: %(default)s ('report' trains "
                                                       "the original report's VGG16)")
    parser.add_argument("--n-samples", type=number(int, 20), default=2000,
                        help="default: %(default)s")
    parser.add_argument("--image-size", type=number(int, 32), default=32,
                        help="default: %(default)s")
    parser.add_argument("--epochs", type=number(int, 1), default=None,
                        help="train exactly this many epochs (default: the recipe's, within "
                             "the time budget)")
    parser.add_argument("--time-budget", type=duration, default=None, metavar="DURATION",
                        help="train for at most this long, e.g. 3m (default: "
                             f"{DEFAULT_BUDGET // 60:.0f}m unless --epochs is given, so that "
                             "the demo takes about 10 minutes on a 2-core CPU; a faster "
                             "machine stops at the recipe's epochs sooner)")
    parser.add_argument("--n-jobs", type=int, default=-1, help="decoding processes")
    parser.add_argument("--seed", type=int, default=0, help="default: %(default)s")
    parser.set_defaults(handler=run)


def run(args):
    from .._console import device_summary
    from .._io.atomic import atomic_folder
    from .._io.locks import exclusive
    from .._io.ownership import replaceable, write_marker
    from ..datasets import load_hpa, make_hpa_like, write_kaggle_layout, write_submission
    from ..model_selection import REPORT_SPLIT, multilabel_train_test_split
    from ..recipes import make_classifier
    from ..report import write_report
    from ..workflows import remove_checkpoints, train_model
    from .evaluate import print_summary

    out = check_output_folder(args.out, kinds="demo", option="--out", what="demo folder")
    checkpoints = out.with_name(out.name + ".checkpoints")
    created_checkpoints = True  # OUT.checkpoints: the library's name; removed when left empty
    started = time.perf_counter()
    budget = args.time_budget
    if budget is None and args.epochs is None:
        budget = DEFAULT_BUDGET
    overrides = {"epochs": args.epochs} if args.epochs else {}
    classifier = make_classifier(args.recipe, weights=None, random_state=args.seed,
                                 verbose=keras_verbose(), checkpoint_dir=checkpoints,
                                 **overrides)
    with exclusive(out, what="demo folder"), \
            atomic_folder(out, replaceable=replaceable("demo")) as tmp:
        say(f"[1/6] Generating {args.n_samples:,} HPA-like samples ({args.image_size} px, 4 "
            "channels; synthetic images with the real label frequencies)")
        synthetic = make_hpa_like(args.n_samples, args.image_size, random_state=args.seed)
        write_kaggle_layout(tmp / "data", synthetic.images, synthetic.ids, synthetic.target,
                            verbose=1)
        say("[2/6] Loading them back through the cached loader")
        data = load_hpa(tmp / "data", image_size=args.image_size, cache_dir=tmp / "cache",
                        n_jobs=args.n_jobs, verbose=1)
        rows = np.arange(len(data.ids))
        train, val, test = multilabel_train_test_split(rows, data.target, **REPORT_SPLIT,
                                                       random_state=args.seed)[:3]
        X, Y = data.images, data.target
        fit_rows = np.concatenate([train, val])
        split = [(np.arange(len(train)), np.arange(len(train), len(fit_rows)))]
        say(f"[3/6] Split 64/16/20 (multilabel-stratified): {len(train):,} train, {len(val):,} "
            f"validation, {len(test):,} test. Recipe '{args.recipe}': {classifier.backbone}.")
        say(f"      {device_summary()}")
        result = train_model(
            X[fit_rows], Y[fit_rows], classifier, cv=split, ensemble=True,
            time_budget=budget, random_state=args.seed,
            run={"command": "demo", "recipe": args.recipe, "backbone": classifier.backbone,
                 "image_size": args.image_size, "channels": list(data.channels),
                 "data": "make_hpa_like (synthetic)", "n_train": int(len(train)),
                 "n_validation": int(len(val)), "seed": args.seed},
            say=lambda message: say(f"      {message}"))
        if result.interrupted is not None:
            raise KeyboardInterrupt from result.interrupted
        model = result.model.set_params(verbose=0)
        say("[4/6] Per-class thresholds tuned on the validation part "
            f"(macro F1 there {result.run.get('oof_macro_f1', float('nan')):.3f})")
        say("[5/6] Evaluating on the test part and writing the report")
        proba = model.predict_proba(X[test])
        run_record = {**result.run, "n_evaluated": int(len(test)),
                      "seconds": round(time.perf_counter() - started, 1)}
        report = write_report(tmp / "report", Y[test], proba, model.threshold, images=X[test],
                              ids=data.ids[test], history=model.history_,
                              explain=model.explain,
                              train_target=Y[train], random_state=args.seed, run=run_record,
                              title=f"hpa-sklearn demo: the '{args.recipe}' recipe on "
                                    "HPA-like synthetic data")
        model.save(tmp / "model", run=run_record)
        say("[6/6] Writing a submission-style CSV of the test part")
        write_submission(tmp / "submission.csv", data.ids[test], model.predict(X[test]))
        write_marker(tmp, "demo", members=["data", "cache", "model", "report"])
    remove_checkpoints(result.checkpoints, checkpoints, created_root=created_checkpoints)
    print_summary(report)
    index = (out / "report" / "index.html").resolve()
    say(f"\nDone in {time.perf_counter() - started:.0f} s.")
    say(f"  report:     {index.as_uri()}")
    say(f"  model:      {out / 'model'}")
    say(f"  submission: {out / 'submission.csv'}")
    say(f"  data:       {out / 'data'} (Kaggle layout; try 'hpa-sklearn train --data "
        f"{out / 'data'} --out model')")
    return 0
