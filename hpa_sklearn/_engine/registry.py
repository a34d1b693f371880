"""Helpers shared by the engine's tables (backbones, schedules, losses, optimizers, test-time
augmentation): their names as a live parameter constraint, as a documentation list, and the
closest names to a mistyped one."""

import difflib
from collections.abc import Set


class NamesOf(Set):
    """The live, case-insensitive key set of a table: a parameter constraint built on it accepts
    an entry added to the table at once."""

    def __init__(self, table, *, ignore_case=True):
        self.table = table
        self.ignore_case = ignore_case

    @classmethod
    def _from_iterable(cls, iterable):  # set operations give plain sets
        return frozenset(iterable)

    def __contains__(self, name):
        if not isinstance(name, str):
            return False
        return (name.lower() if self.ignore_case else name) in self.table

    def __iter__(self):
        return iter(self.table)

    def __len__(self):
        return len(self.table)


def listing(table):
    """'"name" (description); ...' of a table, for docstrings and help texts."""
    items = []
    for name, entry in table.items():
        text = getattr(entry, "description", "") or getattr(entry, "note", "")
        items.append(f'"{name}" ({text})' if text else f'"{name}"')
    return "; ".join(items)


def closest(name, names):
    """The names closest to a mistyped ``name`` (at most three, best first)."""
    names = list(names)
    found = difflib.get_close_matches(str(name), names, n=3, cutoff=0.5)
    lowered = str(name).lower()
    found += [n for n in names if lowered and (lowered in n or n in lowered) and n not in found]
    return found[:3]
