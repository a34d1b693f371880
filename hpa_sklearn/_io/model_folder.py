"""The one saved-model format: a folder with a manifest, ``hpa-sklearn.json``, and the files it lists.

Every saved model has this layout, whatever it holds::

    model/
      hpa-sklearn.json     the manifest: format, kind, library version, creation time, the
                           estimator (class, parameters, fitted attributes), the files with their
                           sizes and SHA-256, member folders, how the run was made
      model.keras          the network of a classifier (Keras format, safe mode)
      fold-1/ fold-2/ ...  members of a fold ensemble, each a model folder of this format
      estimator/           the inner model of a threshold tuner

A training checkpoint is the same with ``"kind": "checkpoint"``, its training state in the manifest
(``training``) and, with early stopping, ``best_weights.npz``; it loads as a model too.

:func:`read_manifest` is the only reader: it validates the manifest against one schema
(:mod:`hpa_sklearn._io.schema`), checks each listed file's size and digest, and refuses paths that
leave the folder. Folders of earlier versions (``estimator.json``, ``ensemble.json``) are read
through :mod:`hpa_sklearn._io.legacy`, which turns their metadata into a manifest.
"""

import datetime
import json
import re
from pathlib import Path

from ..exceptions import ModelFolderError
from .ownership import FORMAT, MARKER, file_digest
from .schema import (
    Any,
    Bool,
    Const,
    Int,
    List,
    Map,
    Obj,
    Optional,
    Str,
    check,
    fail,
)

MANIFEST = MARKER
MANIFEST_VERSION = 1
MODEL_FILE = "model.keras"
BEST_WEIGHTS_FILE = "best_weights.npz"
MODEL_KINDS = ("model", "checkpoint")
# member folder names: fold-1, fold-2, ... (ensembles) and estimator (threshold tuners)
_MEMBER = re.compile(r"fold-[1-9][0-9]{0,3}|estimator")
_FILE = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,120}")
_SHA256 = re.compile(r"[0-9a-f]{64}")


def _files_rule(files, path):
    for name in files:
        if not _FILE.fullmatch(name) or name == MANIFEST or name in (".", ".."):
            fail(f"{path}.{name}" if path else name,
                 "not a plain file name inside the folder (no paths, no hidden names)")


def _members_rule(members, path):
    if len(set(members)) != len(members):
        fail(path, "names a member twice")


_ESTIMATOR = Obj({"class": Str(), "params": Map(Any())},
                 optional={"fitted": Map(Any())})
SCHEMA = Obj(
    {
        "format": Const(FORMAT),
        "version": Int(minimum=1, maximum=MANIFEST_VERSION),
        "kind": Str(MODEL_KINDS),
        "library": Str(),
        "created": Str(),
        "estimator": _ESTIMATOR,
        "files": Map(Obj({"bytes": Int(minimum=0), "sha256": Str(pattern=_SHA256)})),
        "members": List(Str(pattern=_MEMBER)),
    },
    optional={
        "run": Optional(Map(Any())),
        "training": Map(Any()),
        "legacy": Bool(),
    },
    rule=lambda doc, path: (_files_rule(doc["files"], "files"),
                            _members_rule(doc["members"], "members")),
)


def _now():
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _library_version():
    from .. import __version__

    return __version__


def write_manifest(folder, *, estimator, kind="model", members=(), run=None, training=None):
    """Write the manifest of ``folder`` (a temporary folder, swapped in whole by the caller),
    listing the files already in it with their sizes and digests; member folders must be
    complete (with their own manifests) before."""
    folder = Path(folder)
    files = {}
    for child in sorted(folder.iterdir()):
        if child.name == MANIFEST or child.name in members:
            continue
        if not child.is_file():
            raise ValueError(f"{child} is neither a file nor a member folder")  # a library bug
        files[child.name] = {"bytes": child.stat().st_size, "sha256": file_digest(child)}
    manifest = {
        "format": FORMAT,
        "version": MANIFEST_VERSION,
        "kind": kind,
        "library": _library_version(),
        "created": _now(),
        "estimator": estimator,
        "files": files,
        "members": list(members),
    }
    if run is not None:
        manifest["run"] = run
    if training is not None:
        manifest["training"] = training
    check(manifest, SCHEMA, folder / MANIFEST, error=ValueError)  # what we write, we can read
    (folder / MANIFEST).write_text(json.dumps(manifest, indent=2), encoding="utf-8")
    return manifest


def _damaged(folder, what):
    return ModelFolderError(f"{folder}: {what}")


def read_manifest(folder, *, verify=True):
    """The validated manifest of the model folder ``folder``; with ``verify``, every listed file
    is checked (present, same size, same SHA-256) and every member folder exists. A folder of an
    earlier version gets a manifest made from its metadata (``"legacy": true``).

    Raises :class:`~hpa_sklearn.exceptions.ModelFolderError` naming the file and the key."""
    folder = Path(folder)
    if not folder.is_dir():
        raise ModelFolderError(
            f"{folder} is not a folder" + ("" if folder.exists() else " (it does not exist)")
            + "; give the folder a model was saved to.")
    path = folder / MANIFEST
    if not path.exists():
        from .legacy import manifest_of_legacy_folder

        legacy = manifest_of_legacy_folder(folder)
        if legacy is None:
            raise ModelFolderError(
                f"{folder} is not a saved hpa-sklearn model: it holds no {MANIFEST}. Save one with "
                "estimator.save(path), or 'hpa-sklearn train --out FOLDER'.")
        return check(legacy, SCHEMA, folder, advice="The model folder of hpa-sklearn 0.1 is "
                     "damaged; train or save the model again.")
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise ModelFolderError(f"{path} cannot be read as JSON ({exc}); the model folder is "
                               "damaged. Save or train the model again.") from None
    manifest = check(document, SCHEMA, path,
                     advice="The model folder is damaged or was not written by hpa-sklearn.")
    if verify:
        for name, expected in manifest["files"].items():
            target = folder / name
            if target.is_symlink() or not target.is_file():
                raise _damaged(target, f"missing (listed in {MANIFEST}); the model folder is "
                                       "incomplete. Save or train the model again.")
            if target.stat().st_size != expected["bytes"] or file_digest(target) != expected[
                    "sha256"]:
                raise _damaged(target, f"its content differs from what {MANIFEST} recorded "
                                       "(damaged or replaced); save or train the model again.")
        for member in manifest["members"]:
            target = folder / member
            if target.is_symlink() or not target.is_dir():
                raise _damaged(target, f"member folder missing (listed in {MANIFEST}).")
    return manifest
