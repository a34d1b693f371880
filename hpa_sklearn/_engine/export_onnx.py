"""Keras network (TensorFlow backend) to ONNX, through ``tf2onnx.convert.from_keras``.

Why this route (measured with tf2onnx 1.17, onnx 1.23, onnxruntime 1.32, TensorFlow 2.21, Keras
3.15; see ``docs/export.md``): ``from_keras`` traces the network with ``training=False`` (the
augmentation layers are identities) and freezes every captured constant, so the graph has one
input, the image. Keras' own ``model.export(format="onnx")`` (which also goes through tf2onnx)
leaves the random augmentation ops in the graph (onnxruntime refuses ``StatelessRandomUniformV2``)
and turns the normalization constants into extra graph inputs.

One TensorFlow op has no tf2onnx conversion: ``ScaleAndTranslate``, which
``keras.layers.Resizing(antialias=True)`` (the classifier's ``input_size``) emits. Importing this
module registers one. Since the input and output sizes are static, that resize is a fixed linear
map per axis, ``out = Mh @ X @ Mw^T``; the two matrices are computed with TensorFlow's own kernel
(applied to one-hot rows), so the result is TensorFlow's up to float rounding (2e-7 measured), and
the ONNX graph holds two standard ``Einsum`` nodes. (ONNX's ``Resize`` with ``antialias=1``, opset
18, differs from TensorFlow by up to 2.7e-4 on downscaling: too far for a 1e-4 parity.)
"""

import contextlib
import logging

import numpy as np

from .._io.export_folder import INPUT_NAME, OUTPUT_NAME, require

OPSET = 17


def _axis_matrix(n_in, n_out, scale, translation, kernel_type, antialias):
    """``(n_out, n_in)`` weights of TensorFlow's ScaleAndTranslate along one axis."""
    import tensorflow as tf

    # handlers run while tf2onnx holds a graph: evaluate TensorFlow's kernel in a private one
    with tf.Graph().as_default(), tf.compat.v1.Session() as session:
        basis = np.eye(n_in, dtype=np.float32).reshape(1, n_in, 1, n_in)  # one-hot rows
        out = tf.raw_ops.ScaleAndTranslate(
            images=basis, size=np.array([n_out, 1], np.int32),
            scale=np.array([scale, 1.0], np.float32),
            translation=np.array([translation, 0.0], np.float32),
            kernel_type=kernel_type, antialias=antialias)
        return session.run(out[0, :, 0, :])


def _constant_value(node):
    """The value of a constant, or of a Div / RealDiv / Cast of constants (``tf.image.resize``
    computes its scale in the graph, not yet folded when handlers run)."""
    if node.is_const():
        return np.asarray(node.get_tensor_value(as_list=False))
    if node.type in ("Div", "RealDiv"):
        return _constant_value(node.inputs[0]) / _constant_value(node.inputs[1])
    if node.type == "Cast":
        return _constant_value(node.inputs[0]).astype(np.float64)
    raise ValueError(f"ScaleAndTranslate: {node.name} ({node.type}) is not a constant")


_REGISTERED = []


def register_scale_and_translate():
    """Register the ScaleAndTranslate conversion with tf2onnx (once per process)."""
    if _REGISTERED:
        return
    from tf2onnx import utils
    from tf2onnx.handler import tf_op

    @tf_op("ScaleAndTranslate")
    class ScaleAndTranslate:
        @classmethod
        def version_12(cls, ctx, node, **kwargs):
            shape = ctx.get_shape(node.input[0])
            utils.make_sure(shape is not None and shape[1] > 0 and shape[2] > 0,
                            "ScaleAndTranslate %s needs a static height and width", node.name)
            _, height, width, _ = shape
            out_h, out_w = [int(v) for v in _constant_value(node.inputs[1])]
            try:
                scale_y, scale_x = [float(v) for v in _constant_value(node.inputs[2])]
            except ValueError:  # tf.image.resize: scale = output size / static input size
                scale_y, scale_x = out_h / height, out_w / width
            shift_y, shift_x = [float(v) for v in _constant_value(node.inputs[3])]
            kernel = node.get_attr_value("kernel_type", b"lanczos3")
            kernel = kernel.decode() if isinstance(kernel, bytes) else kernel
            antialias = bool(node.get_attr_value("antialias", True))
            rows = _axis_matrix(height, out_h, scale_y, shift_y, kernel, antialias)
            cols = _axis_matrix(width, out_w, scale_x, shift_x, kernel, antialias)
            shapes, dtypes, source = node.output_shapes, node.output_dtypes, node.input[0]
            ctx.remove_node(node.name)
            mh = ctx.make_const(utils.make_name("resize_rows"), rows)
            mw = ctx.make_const(utils.make_name("resize_cols"), cols)
            along_rows = ctx.make_node("Einsum", [source, mh.output[0]],
                                       attr={"equation": "nhwc,oh->nowc"})
            ctx.make_node("Einsum", [along_rows.output[0], mw.output[0]],
                          attr={"equation": "nowc,pw->nopc"}, name=node.name,
                          outputs=node.output, shapes=shapes, dtypes=dtypes)

    _REGISTERED.append(ScaleAndTranslate)


@contextlib.contextmanager
def _quiet_converter():
    """tf2onnx logs every step at INFO and warns about NumPy aliases: keep it to errors."""
    import warnings

    logger = logging.getLogger("tf2onnx")
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    finally:
        logger.setLevel(level)


def _rename_output(model, new):
    """Give the graph's single output the name ``new`` (tf2onnx names it after the Keras op)."""
    old = model.graph.output[0].name
    for node in model.graph.node:
        node.output[:] = [new if name == old else name for name in node.output]
        node.input[:] = [new if name == old else name for name in node.input]
    model.graph.output[0].name = new


def to_onnx(model, input_spec):
    """The ONNX model (``onnx.ModelProto``) of the Keras ``model``, whose single input is named
    ``image`` with ``input_spec`` = (shape, dtype) and whose output is ``probabilities``."""
    require("onnx", "export to ONNX")
    tf2onnx = require("tf2onnx", "export to ONNX")
    import tensorflow as tf

    register_scale_and_translate()
    shape, dtype = input_spec
    signature = [tf.TensorSpec(shape, tf.as_dtype(dtype), name=INPUT_NAME)]
    with _quiet_converter():
        proto, _ = tf2onnx.convert.from_keras(model, input_signature=signature, opset=OPSET)
    if [i.name for i in proto.graph.input] != [INPUT_NAME] or len(proto.graph.output) != 1:
        raise RuntimeError(  # a library bug: the graph must take the image and nothing else
            f"the converted graph has inputs {[i.name for i in proto.graph.input]} and "
            f"{len(proto.graph.output)} outputs; expected one input {INPUT_NAME!r}, one output")
    _rename_output(proto, OUTPUT_NAME)
    proto.doc_string = "hpa-sklearn export: uint8 or float images (NHWC) -> label probabilities"
    return proto
