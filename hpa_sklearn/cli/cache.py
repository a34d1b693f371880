"""``hpa-sklearn cache``: list or clear the decoded-image cache (only its own entries)."""

from pathlib import Path

from ._base import CommandError, say

HELP = "list or clear the decoded-image cache"


def add_parser(subparsers):
    parser = subparsers.add_parser(
        "cache", help=HELP,
        description="List the entries of the decoded-image cache of load_hpa (size, shape, "
                    "source, stale or not), or delete them. Only the cache's own files are "
                    "touched.")
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    for action, text in (("list", "list the entries (a stale one's source files changed)"),
                         ("clear", "delete entries (all, or with --stale the stale ones)")):
        command = actions.add_parser(action, help=text,
                                     description=text[0].upper() + text[1:] + ".")
        command.add_argument("--stale", action="store_true", help="only the stale entries")
        command.add_argument("--cache-dir", default=None, metavar="FOLDER",
                             help="the cache folder (default: $HPA_SKLEARN_CACHE or "
                                  "~/.cache/hpa_sklearn)")
    parser.set_defaults(handler=run)


def run(args):
    from ..datasets import cache_entries, clear_cache
    from ..datasets._cache import default_cache_dir, human_size

    folder = Path(args.cache_dir) if args.cache_dir is not None else default_cache_dir()
    if folder.exists() and not folder.is_dir():
        raise CommandError(f"the cache folder --cache-dir {folder} is not a folder.")
    if not folder.exists():
        if args.cache_dir is not None:
            raise CommandError(f"the cache folder --cache-dir {folder} does not exist.")
        say(f"No image cache at {folder}: nothing has been cached there yet.")
        return 0
    if args.action == "clear":
        removed = clear_cache(folder, stale_only=args.stale)
        kind = "stale " if args.stale else ""
        say(f"Removed {len(removed)} {kind}cache entr{'y' if len(removed) == 1 else 'ies'} "
            f"({human_size(removed['bytes'].sum())}) from {folder}.")
        return 0
    table = cache_entries(folder)
    shown = table[table["stale"]] if args.stale else table
    if len(shown):
        rows = [("KEY", "SIZE", "SHAPE", "CREATED", "STATE", "SOURCE")]
        for entry in shown.itertuples():
            created = ("?" if entry.created is None or entry.created != entry.created
                       else entry.created.tz_convert(None).strftime("%Y-%m-%d %H:%M UTC"))
            shape = "?" if entry.shape is None else "x".join(str(s) for s in entry.shape)
            rows.append((entry.key[:12], human_size(entry.bytes), shape, created, entry.state,
                         entry.source or "?"))
        widths = [max(len(row[i]) for row in rows) for i in range(5)]
        for row in rows:
            say("  ".join(cell.ljust(width) for cell, width in zip(row, widths)) + "  " + row[5])
    stale = table[table["stale"]]
    say(f"{len(table)} entr{'y' if len(table) == 1 else 'ies'}, "
        f"{human_size(table['bytes'].sum())} in {folder}; {len(stale)} stale "
        f"({human_size(stale['bytes'].sum())})"
        + (": 'hpa-sklearn cache clear --stale' removes them." if len(stale) else "."))
    return 0
