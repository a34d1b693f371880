"""The exported-model folder: its metadata file, the one validator of it, and the checks that run
before any exported model is loaded.

An export folder (written by :func:`hpa_sklearn._engine.export.export_networks`) holds::

    export/
      hpa-sklearn.json          the library's ownership manifest (kind "export"), as in every
                                folder the library writes
      hpa-sklearn-export.json   the metadata a consumer reads: the input contract, class names,
                                thresholds, test-time augmentation, provenance, the files' SHA-256
      model.onnx                (format "onnx") or saved_model/ (format "saved_model")

:func:`read_export_metadata` is the only reader: it validates the metadata against :data:`SCHEMA`
(:mod:`hpa_sklearn._io.schema`), refuses a path that is not a plain relative path inside the folder
(or that passes through a symbolic link), checks every listed file's size and digest and refuses
files under the model's folder that the metadata does not list. :func:`audit_onnx` and
:func:`audit_saved_model` read a model file as data (protobuf) and refuse what could make a runtime
reach outside the folder or run code that is not part of the standard runtime: an ONNX node of a
domain other than the standard ones, external tensor data, a TensorFlow op that no installed
TensorFlow registers (a custom op) or one that calls Python or touches files.

Every refusal is one :class:`~hpa_sklearn.exceptions.ModelFolderError` naming the file.
"""

import json
import re
from pathlib import Path

from ..exceptions import HPASklearnError, ModelFolderError
from .ownership import file_digest
from .schema import (
    Any,
    Bool,
    Const,
    Int,
    List,
    Map,
    Null,
    Num,
    Obj,
    OneOf,
    Optional,
    Str,
    check,
    fail,
)

METADATA = "hpa-sklearn-export.json"
FORMAT = "hpa-sklearn-export"
VERSION = 1
KIND = "export"
# model format -> the path of the model inside the folder (a file, or a folder for SavedModel)
MODEL_PATHS = {"onnx": "model.onnx", "saved_model": "saved_model"}
INPUT_NAME = "image"
OUTPUT_NAME = "probabilities"
SAVED_MODEL_ENDPOINT = "serve"
STANDARD_ONNX_DOMAINS = frozenset({"", "ai.onnx", "ai.onnx.ml"})
# TensorFlow ops that run Python or read and write files: never in an export of this library
# (the checkpoint ops SaveV2 / RestoreV2 of the variables are TensorFlow's own loading path)
REFUSED_TF_OPS = frozenset({
    "PyFunc", "PyFuncStateless", "EagerPyFunc", "ReadFile", "WriteFile", "MatchingFiles",
    "ImmutableConst", "DeleteFile", "CreateSummaryFileWriter", "WriteSummary",
    "TFRecordDataset", "TFRecordDatasetV2", "FixedLengthRecordDataset", "TextLineDataset",
    "FixedLengthRecordDatasetV2", "LoadAndRemapMatrix", "DebugIdentityV3", "PrintV2",
})
EXTRA = "export"  # the optional dependencies: pip install hpa-sklearn[export]

_PART = r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,120}"
_RELATIVE = re.compile(rf"{_PART}(/{_PART}){{0,7}}")
_SHA256 = re.compile(r"[0-9a-f]{64}")


class MissingExtraError(HPASklearnError, ImportError):
    """A package of the ``export`` extra is not installed (the message says how to install it)."""


def require(module, purpose):
    """Import ``module`` (onnx, onnxruntime, tf2onnx) or raise :class:`MissingExtraError`."""
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise MissingExtraError(
            f"{purpose} needs the package {module!r}, which is not installed ({exc}); install "
            f"the export extra: pip install 'hpa-sklearn[{EXTRA}]'.") from None


class RelativePath:
    """A plain relative path inside the folder: parts of letters, digits, ``_.-`` (none hidden,
    none ``..``), separated by ``/``."""

    def validate(self, value, path):
        if not isinstance(value, str) or not _RELATIVE.fullmatch(value) or ".." in value.split(
                "/"):
            fail(path, f"{value!r} is not a plain relative path inside the folder (no '..', no "
                       "absolute path, no hidden names); refused")
        return value


def check_installed(format):
    """Before any work: the packages that exporting to ``format`` needs are installed (found,
    not imported), else :class:`MissingExtraError` naming the extra."""
    import importlib.util

    needed = ("onnx", "tf2onnx") if format == "onnx" else ()
    missing = [name for name in needed if importlib.util.find_spec(name) is None]
    if missing:
        raise MissingExtraError(
            f"exporting to {format} needs {' and '.join(missing)}, which "
            f"{'is' if len(missing) == 1 else 'are'} not installed; install the export extra: "
            f"pip install 'hpa-sklearn[{EXTRA}]'.")


def _metadata_rule(doc, path):
    for name in doc["files"]:
        RelativePath().validate(name, f"files.{name}")
        if name == METADATA:
            fail(f"files.{name}", "the metadata is not a file of the model")
    n = len(doc["class_names"])
    if len(doc["thresholds"]) != n:
        fail("thresholds", f"has {len(doc['thresholds'])} values for {n} class names")
    if doc["output"]["shape"][1] != n:
        fail("output.shape", f"{doc['output']['shape']} does not give {n} classes")
    shape = doc["input"]["shape"]
    if shape[3] != len(doc["input"]["channels"]):
        fail("input.shape", f"{shape} does not hold the {len(doc['input']['channels'])} "
                            "channels named in input.channels")
    model = doc["model"]
    if model != MODEL_PATHS[doc["model_format"]]:
        fail("model", f"{model!r} is not where a {doc['model_format']} export keeps its model "
                      f"({MODEL_PATHS[doc['model_format']]!r})")
    if not any(name == model or name.startswith(model + "/") for name in doc["files"]):
        fail("files", f"lists no file of the model {model!r}")


SCHEMA = Obj(
    {
        "format": Const(FORMAT),
        "version": Int(minimum=1, maximum=VERSION),
        "library": Str(),
        "created": Str(),
        "model_format": Str(tuple(MODEL_PATHS)),
        "model": RelativePath(),
        "input": Obj({
            "name": Const(INPUT_NAME),
            "dtype": Str(("uint8", "float32")),
            "shape": List(Optional(Int(minimum=1)), length=4),
            "value_range": List(Num(), length=2),
            "layout": Const("NHWC"),
            "channels": List(Str(), min_length=1),
        }),
        "output": Obj({
            "name": Const(OUTPUT_NAME),
            "dtype": Const("float32"),
            "shape": List(Optional(Int(minimum=1)), length=2),
        }),
        "class_names": List(Str(), min_length=1),
        "thresholds": List(Num(minimum=0)),
        "threshold_source": Str(("tuned", "model")),
        "at_least_one_label": Bool(),
        "tta": OneOf(Null(), Str(), List(Optional(Str()))),
        "views": Int(minimum=1),
        "model_channels": List(Str(), min_length=1),
        "producer": Map(Any()),
        "run": Optional(Map(Any())),
        "files": Map(Obj({"bytes": Int(minimum=0), "sha256": Str(pattern=_SHA256)})),
    },
    optional={"onnx_opset": Int(minimum=1),
              "saved_model_endpoint": Const(SAVED_MODEL_ENDPOINT)},
    rule=_metadata_rule,
)


def check_metadata(document, where, *, error=ModelFolderError):
    """Validate an export's metadata (``where`` names the file in errors); returns it."""
    return check(document, SCHEMA, where, error=error,
                 advice="The exported folder is damaged or was not written by hpa-sklearn; "
                        "export the model again.")


def listed_files(folder):
    """``{relative path: {"bytes", "sha256"}}`` of every file under ``folder`` (sorted)."""
    folder = Path(folder)
    return {path.relative_to(folder).as_posix(): {"bytes": path.stat().st_size,
                                                  "sha256": file_digest(path)}
            for path in sorted(folder.rglob("*")) if path.is_file()}


def write_metadata(folder, metadata):
    """Validate ``metadata`` (a library bug if it fails) and write it into ``folder``."""
    check_metadata(metadata, Path(folder) / METADATA, error=ValueError)
    (Path(folder) / METADATA).write_text(json.dumps(metadata, indent=2), encoding="utf-8")


def _inside(folder, name):
    """The path of ``name`` in ``folder``, refused when any part of it is a symbolic link or it
    resolves outside the folder."""
    target = folder
    for part in name.split("/"):
        target = target / part
        if target.is_symlink():
            raise ModelFolderError(f"{target} is a symbolic link; an exported folder holds only "
                                   "plain files (the link is not followed).")
    if folder.resolve() not in target.resolve().parents:
        raise ModelFolderError(f"{target} lies outside the exported folder {folder}; refused.")
    return target


def read_export_metadata(folder):
    """The validated metadata of the exported folder ``folder``, after checking every listed
    file (present, a plain file inside the folder, same size and SHA-256) and that the model's
    folder (SavedModel) holds no file the metadata does not list.

    Raises :class:`~hpa_sklearn.exceptions.ModelFolderError` naming the file (and the key)."""
    folder = Path(folder)
    if not folder.is_dir():
        raise ModelFolderError(
            f"{folder} is not a folder" + ("" if folder.exists() else " (it does not exist)")
            + "; give the folder a model was exported to.")
    path = folder / METADATA
    if path.is_symlink():
        raise ModelFolderError(f"{path} is a symbolic link; refused.")
    if not path.is_file():
        raise ModelFolderError(
            f"{folder} is not an exported hpa-sklearn model: it holds no {METADATA}. Export one "
            "with model.export(path) or 'hpa-sklearn export --model FOLDER --out FOLDER'.")
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise ModelFolderError(f"{path} cannot be read as JSON ({exc}); the exported folder is "
                               "damaged. Export the model again.") from None
    metadata = check_metadata(document, path)
    for name, expected in metadata["files"].items():
        target = _inside(folder, name)
        if not target.is_file():
            raise ModelFolderError(f"{target} is missing (listed in {path}); the exported folder "
                                   "is incomplete. Export the model again.")
        if target.stat().st_size != expected["bytes"] or file_digest(target) != expected[
                "sha256"]:
            raise ModelFolderError(f"{target}: its content differs from what {path} recorded "
                                   "(SHA-256); the file is damaged or was replaced. Export the "
                                   "model again.")
    model = _inside(folder, metadata["model"])
    if model.is_dir():
        for child in sorted(model.rglob("*")):
            name = child.relative_to(folder).as_posix()
            if child.is_symlink() or (child.is_file() and name not in metadata["files"]):
                raise ModelFolderError(f"{child} is not listed in {path}; an exported model "
                                       "holds only the files its metadata lists. Refused.")
    return metadata


# ----------------------------------------------------------------------------- model audits
def _onnx_graphs(graph, onnx):
    """``graph`` and every subgraph of its nodes (If / Loop / Scan bodies), depth first."""
    yield graph
    for node in graph.node:
        for attribute in node.attribute:
            if attribute.type == onnx.AttributeProto.GRAPH:
                yield from _onnx_graphs(attribute.g, onnx)
            elif attribute.type == onnx.AttributeProto.GRAPHS:
                for sub in attribute.graphs:
                    yield from _onnx_graphs(sub, onnx)


def _onnx_tensors(graph, onnx):
    yield from graph.initializer
    for sparse in graph.sparse_initializer:
        yield sparse.values
        yield sparse.indices
    for node in graph.node:
        for attribute in node.attribute:
            if attribute.type == onnx.AttributeProto.TENSOR:
                yield attribute.t
            elif attribute.type == onnx.AttributeProto.TENSORS:
                yield from attribute.tensors


def audit_onnx(data, where):
    """Refuse the ONNX model ``data`` (bytes, read from the file ``where``) when a node of it, of
    its local functions or of their subgraphs is of a domain other than the standard ones, or a
    tensor keeps its data in an external file. Returns the parsed model (``onnx.ModelProto``)."""
    onnx = require("onnx", "reading an exported ONNX model")
    try:
        model = onnx.load_model_from_string(data)
    except Exception as exc:  # protobuf raises its own DecodeError
        raise ModelFolderError(f"{where} is not an ONNX model ({type(exc).__name__}: {exc}); "
                               "the file is damaged. Export the model again.") from None
    # local functions are graphs of nodes too (their attributes may hold subgraphs)
    roots = [model.graph, *(onnx.helper.make_graph(f.node, f.name, [], []) for f in
                            model.functions)]
    for root in roots:
        for graph in _onnx_graphs(root, onnx):
            for tensor in _onnx_tensors(graph, onnx):
                if tensor.data_location == onnx.TensorProto.EXTERNAL or tensor.external_data:
                    raise ModelFolderError(
                        f"{where}: tensor {tensor.name!r} keeps its data in an external file; "
                        "an exported hpa-sklearn model is one self-contained file. Refused.")
            for node in graph.node:
                if node.domain not in STANDARD_ONNX_DOMAINS:
                    raise ModelFolderError(
                        f"{where}: node {node.name or node.op_type!r} is the operator "
                        f"{node.domain}::{node.op_type}, outside the standard ONNX domains; a "
                        "custom operator runs code that is not part of ONNX. Refused.")
    return model


def audit_saved_model(folder, where):
    """Refuse the SavedModel in ``folder`` (``where``: its ``saved_model.pb``) when one of its ops
    is not registered in this TensorFlow (a custom op, whose kernel would be code loaded from
    elsewhere) or is one that runs Python or touches files (:data:`REFUSED_TF_OPS`)."""
    from tensorflow.core.protobuf import saved_model_pb2
    from tensorflow.python.framework import op_def_registry

    proto = saved_model_pb2.SavedModel()
    try:
        proto.ParseFromString((Path(folder) / "saved_model.pb").read_bytes())
    except Exception as exc:  # protobuf's DecodeError, OSError
        raise ModelFolderError(f"{where} is not a SavedModel ({type(exc).__name__}: {exc}); "
                               "the file is damaged. Export the model again.") from None
    for meta_graph in proto.meta_graphs:
        graph = meta_graph.graph_def
        node_lists = [graph.node, *(function.node_def for function in graph.library.function)]
        defined = {function.signature.name for function in graph.library.function}
        for nodes in node_lists:
            for node in nodes:
                if node.op in REFUSED_TF_OPS:
                    raise ModelFolderError(
                        f"{where}: op {node.op} (node {node.name!r}) runs Python or touches "
                        "files; an exported hpa-sklearn model never holds one. Refused.")
                if node.op not in defined and op_def_registry.get(node.op) is None:
                    raise ModelFolderError(
                        f"{where}: op {node.op!r} (node {node.name!r}) is not a TensorFlow op (a "
                        "custom op, whose code would come from outside TensorFlow). Refused.")
    return proto
