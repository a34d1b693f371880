"""``hpa-sklearn search``: the original report's tuning table, searched with macro F1 on
multilabel-stratified folds."""

import sys
import time
import warnings

from .._io.ownership import check_output_folder
from ._base import CommandError, say
from ._data import add_data_options, input_paths, load
from ._training import add_training_options, make_classifier

HELP = "search the report's tuning table"


def add_parser(subparsers):
    parser = subparsers.add_parser(
        "search", help=HELP,
        description="Search the original report's tuning table (batch size, learning rate, "
                    "optimizer, activation, dropout: 720 combinations) with macro F1 on "
                    "multilabel-stratified folds; writes cv_results.csv and a plot.")
    add_data_options(parser)
    add_training_options(parser)
    parser.add_argument("--halving", action="store_true",
                        help="successive halving with epochs as the resource (up to --epochs)")
    parser.add_argument("--n-candidates", type=int, default=None,
                        help="draw this many combinations at random instead of all 720")
    parser.add_argument("--cv", type=int, default=3, help="folds (default: 3)")
    parser.add_argument("--search-jobs", type=int, default=None, help="parallel fits")
    parser.add_argument("--fits-per-worker", type=int, default=8,
                        help="run the fits in worker processes, each replaced by a fresh one "
                             "after this many fits, so that the memory every Keras fit leaks "
                             "goes back to the system (0: all fits in this process, whose "
                             "memory grows with each; default: %(default)s)")
    parser.add_argument("--out", required=True, metavar="FOLDER",
                        help="folder for cv_results.csv and the plot")
    parser.set_defaults(handler=run)


def _search(args, classifier):
    from sklearn.model_selection import GridSearchCV, RandomizedSearchCV

    from ..metrics import macro_f1_scorer
    from ..model_selection import MultilabelStratifiedKFold, make_report_search, report_param_grid

    grid = report_param_grid(step=None)
    cv = MultilabelStratifiedKFold(args.cv, random_state=args.seed)
    if args.halving:
        search = make_report_search(classifier, step=None, resource="epochs",
                                    max_resources=classifier.epochs,
                                    n_candidates=args.n_candidates, cv=cv,
                                    random_state=args.seed, n_jobs=args.search_jobs, verbose=2)
    elif args.n_candidates:
        search = RandomizedSearchCV(classifier, grid, n_iter=args.n_candidates,
                                    scoring=macro_f1_scorer, cv=cv, random_state=args.seed,
                                    n_jobs=args.search_jobs, verbose=2, refit=False)
    else:
        search = GridSearchCV(classifier, grid, scoring=macro_f1_scorer, cv=cv,
                              n_jobs=args.search_jobs, verbose=2, refit=False)
    search.set_params(refit=False)
    return search, grid


def run(args):
    import pandas as pd

    from .._io.atomic import atomic_folder, save_figure
    from .._io.ownership import replaceable, write_marker
    from ..report import plot_search

    if args.fits_per_worker < 0:
        raise CommandError(f"--fits-per-worker must be >= 0 (0: every fit in this process); "
                           f"got {args.fits_per_worker}.")
    if args.cv < 2:
        raise CommandError(f"--cv must be at least 2 folds; got {args.cv}.")
    fits_per_worker = args.fits_per_worker
    if fits_per_worker and sys.version_info < (3, 11):
        warnings.warn("fits in worker processes need Python >= 3.11; every fit runs in this "
                      "process, whose memory grows with each fit (--fits-per-worker 0).")
        fits_per_worker = 0
    out = check_output_folder(args.out, kinds="search", option="--out",
                              what="search results folder", inputs=input_paths(args, "data"))
    classifier = make_classifier(args).set_params(verbose=0)
    data = load(args, labels=args.labels, image_size=args.image_size, channels=args.channels,
                image_dir=args.image_dir)
    if data.target is None:
        raise CommandError(f"--labels {args.labels} has no Target column: a search needs labels.")
    search, grid = _search(args, classifier)
    start = time.perf_counter()
    if fits_per_worker:
        from ..parallel import isolated_fits

        n_workers = args.search_jobs or 1
        say(f"Fits run in {'one worker process' if n_workers == 1 else 'worker processes'}, "
            f"each replaced after {fits_per_worker} fits (--fits-per-worker; 0 runs them all in "
            "this process).")
        with isolated_fits(max_fits_per_worker=fits_per_worker, n_workers=n_workers):
            search.fit(data.images, data.target)
    else:
        search.fit(data.images, data.target)
    results = pd.DataFrame(search.cv_results_)
    with atomic_folder(out, replaceable=replaceable("search")) as tmp:
        results.to_csv(tmp / "cv_results.csv", index=False)
        figure = plot_search(results, list(grid))
        save_figure(figure, tmp / "search.png", dpi=110)
        write_marker(tmp, "search")
    best = results.loc[results["rank_test_score"].idxmin()]
    say(f"\nSearch of {len(results)} candidates took {time.perf_counter() - start:.0f} s.")
    say("Best candidate (mean CV macro F1 {:.4f}): {}".format(
        best["mean_test_score"], {k: best[f"param_{k}"] for k in grid}))
    say(f"cv_results_ written to {out / 'cv_results.csv'}, plot to {out / 'search.png'}")
    return 0
