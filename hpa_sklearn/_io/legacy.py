"""Model folders written by hpa-sklearn 0.1 (``estimator.json``, ``ensemble.json``, the command
line's ``hpa_model.json``): read by turning their metadata into a manifest of the current format
(:mod:`hpa_sklearn._io.model_folder`), which the one reader then validates like any other. Saving
such a model again writes the current format.
"""

import datetime
import json
from pathlib import Path

from ..exceptions import ModelFolderError
from .ownership import FORMAT, file_digest, register_legacy

ESTIMATOR_FILE = "estimator.json"
ENSEMBLE_FILE = "ensemble.json"
CLI_FILE = "hpa_model.json"
TRAINING_FILE = "training.json"
_MODEL_FILE = "model.keras"
_BEST = "best_weights.npz"
_KNOWN = {_MODEL_FILE, ESTIMATOR_FILE, TRAINING_FILE, _BEST}


def _is_classifier_folder(path):
    path = Path(path)
    return (path / ESTIMATOR_FILE).is_file() and all(
        child.name in _KNOWN or (child.suffix == ".json" and child.is_file())
        for child in path.iterdir())


def _is_checkpoint_folder(path):
    path = Path(path)
    return (path / TRAINING_FILE).is_file() and _is_classifier_folder(path)


def _is_ensemble_folder(path):
    path = Path(path)
    return (path / ENSEMBLE_FILE).is_file() and all(
        (child.name.startswith("fold-") and child.is_dir()) or child.suffix == ".json"
        for child in path.iterdir())


register_legacy("model", lambda p: _is_classifier_folder(p) and not _is_checkpoint_folder(p))
register_legacy("model", _is_ensemble_folder)
register_legacy("checkpoint", _is_checkpoint_folder)


def _read(path):
    try:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise ModelFolderError(f"{path} cannot be read as JSON ({exc}); the model folder is "
                               "damaged. Train or save the model again.") from None


def _convert_value(value):
    """0.1's encodings of nested objects, in today's (see hpa_sklearn._persistence)."""
    if isinstance(value, dict) and set(value) == {"ImageAugmenter"}:
        return {"__estimator__": "ImageAugmenter", "params": value["ImageAugmenter"]}
    if isinstance(value, dict) and set(value) == {"keras"}:
        return {"__keras_optimizer__": value["keras"]}
    return value


def _run_record(folder):
    """The 0.1 command line's ``hpa_model.json``, as the manifest's ``run`` section."""
    path = folder / CLI_FILE
    if not path.is_file():
        return None
    meta = _read(path)
    if not isinstance(meta, dict) or meta.get("format") != 1:
        raise ModelFolderError(f"{path}: format: not a model record of hpa-sklearn 0.1; the "
                               "folder is damaged. Train the model again.")
    return {k: v for k, v in meta.items() if k not in ("format", "class_names")}


def _created(path):
    stamp = Path(path).stat().st_mtime
    return datetime.datetime.fromtimestamp(stamp, datetime.timezone.utc).strftime(
        "%Y-%m-%dT%H:%M:%SZ")


def _classifier_manifest(folder):
    state = _read(folder / ESTIMATOR_FILE)
    where = folder / ESTIMATOR_FILE
    if not isinstance(state, dict):
        raise ModelFolderError(f"{where}: (top level): expected a JSON object; the file is "
                               "damaged.")
    for key in sorted(set(state) ^ {"format", "class", "params", "fitted"}):
        raise ModelFolderError(f"{where}: {key}: {'unknown key' if key in state else 'missing'}; "
                               "the file is damaged.")
    if state["format"] not in (1, 2, 3) or isinstance(state["format"], bool):
        raise ModelFolderError(f"{where}: format: {state['format']!r} is not a save format of "
                               "hpa-sklearn 0.1 (1 to 3).")
    if not isinstance(state["params"], dict) or not isinstance(state["fitted"], dict):
        raise ModelFolderError(f"{where}: params/fitted: expected objects; the file is damaged.")
    model = folder / _MODEL_FILE
    if not model.is_file():
        raise ModelFolderError(f"{model}: missing; the model folder is incomplete.")
    params = {k: _convert_value(v) for k, v in state["params"].items()}
    params["__legacy_format__"] = state["format"]
    return {
        "format": FORMAT, "version": 1, "kind": "model", "library": "0.1",
        "created": _created(where), "legacy": True,
        "estimator": {"class": state["class"], "params": params, "fitted": state["fitted"]},
        "files": {_MODEL_FILE: {"bytes": model.stat().st_size, "sha256": file_digest(model)}},
        "members": [],
        "run": _run_record(folder),
    }


def _ensemble_manifest(folder):
    where = folder / ENSEMBLE_FILE
    meta = _read(where)
    expected = {"format", "members", "threshold", "at_least_one_label"}
    if not isinstance(meta, dict) or set(meta) != expected or meta["format"] != 1:
        raise ModelFolderError(f"{where}: not an ensemble record of hpa-sklearn 0.1 (keys "
                               f"{sorted(expected)}, format 1); the folder is damaged.")
    members = meta["members"]
    if not (isinstance(members, list) and members and all(
            isinstance(m, str) and m.startswith("fold-") and "/" not in m for m in members)):
        raise ModelFolderError(f"{where}: members: expected a list of 'fold-N' folder names.")
    return {
        "format": FORMAT, "version": 1, "kind": "model", "library": "0.1",
        "created": _created(where), "legacy": True,
        "estimator": {"class": "HPAFoldEnsemble",
                      "params": {"threshold": meta["threshold"],
                                 "at_least_one_label": meta["at_least_one_label"],
                                 "__legacy_format__": 1},
                      "fitted": {}},
        "files": {}, "members": members, "run": _run_record(folder),
    }


def manifest_of_legacy_folder(folder):
    """A manifest made from a 0.1 folder's metadata, or None when ``folder`` is not one."""
    folder = Path(folder)
    if (folder / ENSEMBLE_FILE).is_file():
        return _ensemble_manifest(folder)
    if (folder / ESTIMATOR_FILE).is_file():
        return _classifier_manifest(folder)
    return None
