"""Explanations of the network's predictions: Grad-CAM and occlusion heatmaps, on any Keras
backend that computes gradients (TensorFlow, JAX).

Grad-CAM (Selvaraju et al. 2017) splits the functional model, without copying weights, at the
backbone's call node into ``front`` (image -> preprocessing -> the backbone up to its ``cam_layer``,
the backbone table's entry) and ``back`` (feature map ``A`` -> rest of the backbone -> pooling ->
head -> logits, the output layer's pre-sigmoid values). For image i and class c:
``alpha_k = mean_ij dz_c / dA_ijk``, ``map = ReLU(sum_k alpha_k A_k)``, upsampled (bilinear) to the
input's size and divided by its maximum. Every (image, class) pair is one row of a batch (the
feature map repeated per class) and one gradient of the sum of the rows' scores gives every row's
gradient at once: rows do not interact at inference (batch normalization uses its moving
statistics, dropout is off). The gradient runs through ``back`` only (the head; VGG16's last
pooling too), so a map costs about one forward pass of the image, whatever the number of classes.

Occlusion (Zeiler and Fergus 2014) needs no gradient, only predictions: the drop of the class's
probability when a square patch of the image is set to zero ("no stain"), averaged over the
patches that cover each pixel. It is the model-agnostic check of Grad-CAM.

Both read the images one batch at a time (a memmap stays on disk), pad the last batch to the
same shape (one trace per network), follow the classifier's test-time augmentation (the mean of
the maps of every view, each turned back) and average the members of a fold ensemble. Keras is
imported when a map is computed, not with this module (the estimators' modules import it).
"""

import functools
import math
import weakref

import numpy as np

from .._constants import CLASS_NAMES
from ..exceptions import InputError
from .backbones import BACKBONES
from .tta import tta_transforms, view

METHODS = ("gradcam", "occlusion")
# one Grad-CAM step holds at most about this many feature-map values and heatmap pixels
_MAX_STEP_ELEMENTS = 2**24


# ----------------------------------------------------------------------------- classes
def check_classes(classes, n_outputs, n_images):
    """``classes`` (ids or names, one list for every image or an ``(n_images, m)`` array of ids)
    as an int array ``(n_images, m)``."""
    if isinstance(classes, (str, bytes)):
        classes = [classes]
    try:
        values = np.asarray(classes, dtype=object)
    except ValueError:
        values = np.asarray(list(classes), dtype=object)
    if values.ndim not in (1, 2) or values.size == 0:
        raise InputError(f"classes must be None, a non-empty list of class ids or names, or an "
                         f"(n_images, m) array of class ids; got {classes!r}.")
    if values.ndim == 2 and len(values) != n_images:
        raise InputError(f"classes has {len(values)} rows for {n_images} images; a 2-D classes "
                         "gives each image its own class ids.")
    names = {name.lower(): i for i, name in enumerate(CLASS_NAMES[:n_outputs])}
    ids = np.empty(values.shape, dtype=np.int64)
    for index, value in np.ndenumerate(values):
        if isinstance(value, str):
            if value.lower() not in names:
                from .registry import closest

                near = closest(value, CLASS_NAMES[:n_outputs])
                raise InputError(f"classes: {value!r} is not a class name" + (
                    f"; did you mean {' or '.join(repr(n) for n in near)}?" if near else
                    f"; the names are hpa_sklearn.CLASS_NAMES (or pass class ids 0.."
                    f"{n_outputs - 1})."))
            ids[index] = names[value.lower()]
        elif isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)):
            raise InputError(f"classes must hold class ids (integers) or names; got {value!r}.")
        elif not 0 <= value < n_outputs:
            raise InputError(f"class id {value} is out of range: the model has {n_outputs} "
                             f"classes (0..{n_outputs - 1}).")
        else:
            ids[index] = value
    return np.broadcast_to(ids, (n_images, ids.shape[-1])) if ids.ndim == 1 else ids


def rank_classes(proba, thresholds):
    """The classes of each image by ``proba / threshold``, highest first (the classes ``predict``
    marks come first), as many as the most any image has marked (at least 1): ``(n, k)``."""
    proba = np.asarray(proba, dtype=np.float64)
    ratio = proba / np.maximum(np.broadcast_to(thresholds, proba.shape[1:]), 1e-12)
    k = max(1, int((ratio >= 1).sum(axis=1).max(initial=0)))
    return np.argsort(-ratio, axis=1, kind="stable")[:, :k]


# ----------------------------------------------------------------------------- the split
def find_backbone(model):
    """The nested backbone sub-model of ``model`` (the one ``keras.Model`` among its layers)."""
    import keras

    nested = [layer for layer in model.layers if isinstance(layer, keras.Model)]
    if len(nested) != 1:
        raise InputError(f"Grad-CAM expects one nested backbone model in {model.name}; found "
                         f"{[layer.name for layer in nested]}. Use method='occlusion'.")
    return nested[0]


@functools.cache
def _logits_class():
    import keras
    from keras import ops

    class Logits(keras.layers.Layer):
        """The output Dense layer's ``inputs @ kernel + bias`` without its sigmoid, sharing its
        variables."""

        def __init__(self, dense, **kwargs):
            super().__init__(dtype="float32", **kwargs)
            self.dense = dense

        def call(self, inputs):
            x = ops.matmul(ops.cast(inputs, "float32"), ops.cast(self.dense.kernel, "float32"))
            if self.dense.use_bias:
                x = ops.add(x, ops.cast(self.dense.bias, "float32"))
            return x

        def compute_output_shape(self, input_shape):
            return (*input_shape[:-1], self.dense.units)

    return Logits


def split_model(model, cam_layer=None):
    """``(front, back)``: ``front`` maps the model's input to the feature map of ``cam_layer`` (a
    layer of the nested backbone; None: the backbone's output), ``back`` that feature map to the
    logits of every class.

    Keras 3 builds models between existing symbolic tensors, inner ones included, but an inner
    layer's ``.output`` belongs to the backbone's own graph: the backbone's outer input and output
    come from its call node, and the pieces are composed.
    """
    import keras

    base = find_backbone(model)
    if len(base._inbound_nodes) != 1:
        raise InputError(f"the backbone {base.name} is called {len(base._inbound_nodes)} times "
                         "in the network; Grad-CAM needs one call. Use method='occlusion'.")
    node = base._inbound_nodes[0]
    base_in, base_out = node.input_tensors[0], node.output_tensors[0]
    try:
        cam = base.outputs[0] if cam_layer is None else base.get_layer(cam_layer).output
    except ValueError:
        raise InputError(f"the backbone {base.name} has no layer {cam_layer!r}.") from None
    pre = keras.Model(model.inputs, base_in, name="explain_pre")
    inner_front = keras.Model(base.inputs, cam, name="explain_inner_front")
    image = keras.Input(shape=model.inputs[0].shape[1:], dtype=model.inputs[0].dtype,
                        name="explain_image")
    front = keras.Model(image, inner_front(pre(image)), name="explain_front")

    feature = keras.Input(shape=cam.shape[1:], dtype=cam.dtype, name="explain_feature")
    x = feature
    if cam is not base.outputs[0]:
        try:
            x = keras.Model(cam, base.outputs[0], name="explain_inner_back")(x)
        except ValueError as exc:  # a skip connection passes around cam_layer
            raise InputError(f"cam_layer {cam_layer!r} does not cut {base.name}'s graph (some "
                             "path to the output avoids it); choose a block output.") from exc
    out_layer = model.layers[-1]
    activation = getattr(getattr(out_layer, "activation", None), "__name__", None)
    if not isinstance(out_layer, keras.layers.Dense) or activation != "sigmoid":
        raise InputError("Grad-CAM needs the network's sigmoid Dense output layer; use "
                         "method='occlusion'.")
    post = keras.Model(base_out, out_layer.input, name="explain_post")
    back = keras.Model(feature, _logits_class()(out_layer, name="explain_logits")(post(x)),
                       name="explain_back")
    return front, back


# ----------------------------------------------------------------------------- Grad-CAM
def _cam(features, grads, size):
    """ReLU(sum_k alpha_k A_k), alpha_k the spatial mean of the gradient, upsampled to ``size``."""
    from keras import ops

    features = ops.cast(features, "float32")
    alpha = ops.mean(ops.cast(grads, "float32"), axis=(1, 2), keepdims=True)
    cam = ops.relu(ops.sum(alpha * features, axis=-1, keepdims=True))
    return ops.image.resize(cam, size, interpolation="bilinear")[..., 0]


def _rows(features, onehot):
    """Each image's feature map repeated once per asked class: ``(b * m, ...)``."""
    from keras import ops

    m = ops.shape(onehot)[0] // ops.shape(features)[0]
    return ops.repeat(features, m, axis=0)


class GradCAM:
    """The compiled Grad-CAM of one network and ``cam_layer`` (built once, reused per batch).

    ``step(x, onehot, size)``: ``x`` a batch of ``b`` images, ``onehot`` ``(b * m, n_outputs)``
    (row ``i * m + j``: image i's j-th asked class, all-zero for padding); returns the maps
    ``(b * m, *size)`` and the logits of the asked classes ``(b * m,)``.
    """

    def __init__(self, model, cam_layer=None):
        self.front, self.back = split_model(model, cam_layer)
        self.feature_shape = tuple(self.front.outputs[0].shape[1:])
        self.n_outputs = int(model.outputs[0].shape[-1])
        self._steps = {}

    def _compile(self, size):
        import keras

        front, back = self.front, self.back
        backend = keras.backend.backend()
        if backend == "tensorflow":
            import tensorflow as tf

            @tf.function(reduce_retracing=True)
            def step(x, onehot):
                rows = _rows(front(x, training=False), onehot)
                with tf.GradientTape() as tape:
                    tape.watch(rows)
                    scores = tf.reduce_sum(tf.cast(back(rows, training=False), "float32")
                                           * onehot, axis=-1)
                    total = tf.reduce_sum(scores)
                return _cam(rows, tape.gradient(total, rows), size), scores

            return step
        if backend == "jax":
            import jax
            import jax.numpy as jnp

            def pure(front_vars, back_vars, x, onehot):
                features, _ = front.stateless_call(*front_vars, x, training=False)
                rows = _rows(features, onehot)

                def score(r):
                    z, _ = back.stateless_call(*back_vars, r, training=False)
                    per_row = jnp.sum(z.astype("float32") * onehot, axis=-1)
                    return jnp.sum(per_row), per_row

                (_, per_row), grads = jax.value_and_grad(score, has_aux=True)(rows)
                return _cam(rows, grads, size), per_row

            pure = jax.jit(pure)

            def step(x, onehot):
                variables = [[[v.value for v in m.trainable_variables],
                              [v.value for v in m.non_trainable_variables]]
                             for m in (front, back)]
                return pure(*variables, x, onehot)

            return step
        raise InputError(f"Grad-CAM runs under the TensorFlow and JAX backends of Keras; this is "
                         f"{backend!r}. Use method='occlusion', or set KERAS_BACKEND=jax or "
                         "tensorflow.")

    def step(self, x, onehot, size):
        from keras import ops

        size = tuple(int(s) for s in size)
        if size not in self._steps:
            self._steps[size] = self._compile(size)
        maps, scores = self._steps[size](x, onehot)
        return ops.convert_to_numpy(maps), ops.convert_to_numpy(scores)


_EXPLAINERS = weakref.WeakKeyDictionary()


def explainer(model, cam_layer=None):
    """The cached :class:`GradCAM` of ``model`` (a Keras network) at ``cam_layer``."""
    per_model = _EXPLAINERS.setdefault(model, {})
    if cam_layer not in per_model:
        per_model[cam_layer] = GradCAM(model, cam_layer)
    return per_model[cam_layer]


def _unview(maps, transform):
    """Undo :func:`~hpa_sklearn._engine.tta.view` on maps ``(..., H, W)``."""
    turns, mirror = transform
    if mirror:
        maps = maps[..., ::-1]
    if turns:
        maps = np.rot90(maps, -turns, axes=(-2, -1))
    return maps


def normalize_maps(maps, eps=1e-12):
    """Each map (last two axes) divided by its maximum, in place; a map whose maximum is <= eps
    (no positive evidence, or a vanished gradient) becomes zero. Returns ``maps``."""
    peak = maps.max(axis=(-2, -1), keepdims=True)
    np.divide(maps, np.where(peak > eps, peak, 1.0), out=maps)
    maps[np.broadcast_to(peak <= eps, maps.shape)] = 0.0
    return maps


def _padded(batch, size):
    """``batch`` completed to ``size`` rows with copies of its last one (one traced shape)."""
    if len(batch) == size:
        return batch
    return np.concatenate([batch, np.repeat(batch[-1:], size - len(batch), axis=0)])


def _read(X, start, stop):
    batch = np.asarray(X[start:stop])
    if batch.dtype != np.uint8 and batch.dtype != np.float32:
        batch = batch.astype(np.float32)
    return np.ascontiguousarray(batch)


def gradcam_batch(model, batch, classes, *, cam_layer=None, tta=None, rows=None):
    """Grad-CAM maps ``(b, m, H, W)`` (float32, >= 0, not normalized; the mean over the ``tta``
    views) of ``model`` for a batch of images and ``classes`` ``(b, m)``; the batch is padded to
    ``rows`` images."""
    cam = explainer(model, cam_layer)
    b, m = classes.shape
    rows = b if rows is None else rows
    slots = 1 << (m - 1).bit_length()  # the asked classes padded to a power of two: few traces
    onehot = np.zeros((rows, slots, cam.n_outputs), dtype=np.float32)
    np.put_along_axis(onehot[:b, :m], classes[..., None], 1.0, axis=-1)
    onehot = onehot.reshape(rows * slots, cam.n_outputs)
    height, width = batch.shape[1:3]
    total = np.zeros((b, m, height, width), dtype=np.float32)
    views = tta_transforms(tta, (height, width))
    for transform in views:
        x = _padded(view(batch, transform), rows)
        maps, _ = cam.step(x, onehot, x.shape[1:3])
        maps = maps.reshape(rows, slots, *x.shape[1:3])[:b, :m]
        total += _unview(maps, transform)
    total /= len(views)
    np.nan_to_num(total, copy=False, nan=0.0, posinf=0.0, neginf=0.0)
    return np.maximum(total, 0.0, out=total)


def gradcam_rows(model, image_shape, n_classes, batch_size, cam_layer=None):
    """Images per Grad-CAM step: ``batch_size``, lowered so that a step holds at most about
    2**24 feature-map values and heatmap pixels."""
    cam = explainer(model, cam_layer)
    slots = 1 << (n_classes - 1).bit_length()
    per_image = slots * max(math.prod(cam.feature_shape), image_shape[0] * image_shape[1])
    return max(1, min(int(batch_size), _MAX_STEP_ELEMENTS // per_image))


# ----------------------------------------------------------------------------- occlusion
def _positions(size, patch, stride):
    starts = list(range(0, size - patch + 1, stride))
    if starts[-1] != size - patch:
        starts.append(size - patch)  # the last patch touches the border
    return np.asarray(starts)


def occlusion_geometry(height, width, patch=None, stride=None):
    """``(patch, stride, ys, xs)``: a patch of 1/8 of the image's side moved by half a patch."""
    patch = max(1, min(height, width) // 8) if patch is None else int(patch)
    stride = max(1, patch // 2) if stride is None else int(stride)
    if not (1 <= patch <= min(height, width) and stride >= 1):
        raise InputError(f"occlusion needs 1 <= patch <= {min(height, width)} and stride >= 1; "
                         f"got patch={patch}, stride={stride}.")
    return patch, stride, _positions(height, patch, stride), _positions(width, patch, stride)


def network_predictor(model, tta=None, image_shape=None):
    """``predict(batch) -> (b, n_outputs)``: the network's probabilities, the mean over the
    ``tta`` views (as the classifier's ``predict_proba``)."""
    views = tta_transforms(tta, image_shape[:2]) if image_shape is not None else ((0, False),)

    def predict(batch):
        total = 0.0
        for transform in views:
            total = total + np.asarray(model.predict_on_batch(view(batch, transform)),
                                       dtype=np.float64)
        return total / len(views)

    return predict


def occlusion_image(predict, image, classes, *, patch=None, stride=None, batch_size=64):
    """Signed occlusion maps ``(m, H, W)`` (float64) of one image ``(H, W, C)``: the drop of
    ``predict``'s probability of each of ``classes`` when a patch is set to zero, averaged over
    the patches that cover each pixel (a rise is negative)."""
    height, width = image.shape[:2]
    patch, stride, ys, xs = occlusion_geometry(height, width, patch, stride)
    grid = [(y, x) for y in ys for x in xs]
    n_rows = 1 + len(grid)  # the intact image, then each occluded one
    # batches of equal size, as few as batch_size allows (the last one padded)
    size = math.ceil(n_rows / math.ceil(n_rows / max(1, int(batch_size))))
    proba = []
    for start in range(0, n_rows, size):
        stop = min(start + size, n_rows)
        batch = np.repeat(image[None], stop - start, axis=0)
        for k, j in enumerate(range(max(start, 1), stop), start=max(start, 1) - start):
            y, x = grid[j - 1]
            batch[k, y:y + patch, x:x + patch] = 0
        proba.append(np.asarray(predict(_padded(batch, size)), dtype=np.float64)[:stop - start])
    proba = np.concatenate(proba)[:, classes]
    drop = (proba[0][:, None] - proba[1:].T).reshape(len(classes), len(ys), len(xs))
    cover_y = ((np.arange(height)[:, None] >= ys) & (np.arange(height)[:, None] < ys + patch))
    cover_x = ((np.arange(width)[:, None] >= xs) & (np.arange(width)[:, None] < xs + patch))
    cover_y, cover_x = cover_y.astype(np.float64), cover_x.astype(np.float64)
    coverage = cover_y.sum(1)[:, None] * cover_x.sum(1)[None, :]
    return np.einsum("hy,myx,wx->mhw", cover_y, drop, cover_x) / np.maximum(coverage, 1)


def occlusion(predict, X, classes, *, patch=None, stride=None, batch_size=64, signed=False,
              out=None):
    """Occlusion maps ``(n, m, H, W)`` float32 of any ``predict(batch) -> (b, n_outputs)``
    probabilities for the images ``X`` and ``classes`` (``(n, m)`` ids, or one list for all):
    the drop of each class's probability when a ``patch`` x ``patch`` square (default 1/8 of the
    side, moved by half a patch) is set to zero, averaged over the patches covering each pixel.
    Rises of the probability are clipped to 0 unless ``signed``."""
    n, height, width = len(X), X.shape[1], X.shape[2]
    classes = np.asarray(classes)
    classes = np.broadcast_to(classes, (n, classes.shape[-1])) if classes.ndim == 1 else classes
    maps = np.empty((n, classes.shape[1], height, width), np.float32) if out is None else out
    for i in range(n):
        heat = occlusion_image(predict, _read(X, i, i + 1)[0], classes[i], patch=patch,
                               stride=stride, batch_size=batch_size)
        maps[i] = np.nan_to_num(heat if signed else np.maximum(heat, 0.0))
    return maps


# ----------------------------------------------------------------------------- estimators
def _networks(estimator):
    """The fitted classifiers whose networks make ``estimator``'s probabilities (itself, a fold
    ensemble's members, a threshold tuner's model or its members)."""
    inner = getattr(estimator, "estimator_", None) if hasattr(estimator, "best_thresholds_") \
        else None
    model = inner if inner is not None else estimator
    members = getattr(model, "estimators_", None)
    members = list(members) if members is not None else [model]
    for member in members:
        if not hasattr(member, "model_") or not hasattr(member, "_check_predict_X"):
            raise InputError(f"explain needs the library's image classifiers (HPAClassifier); "
                             f"{type(estimator).__name__} holds a {type(member).__name__}.")
    return members


def _thresholds(estimator):
    if hasattr(estimator, "best_thresholds_"):
        return np.asarray(estimator.best_thresholds_, dtype=np.float64)
    return np.asarray(estimator.threshold, dtype=np.float64)


def explain_estimator(estimator, X, classes=None, method="gradcam", batch_size=None, *,
                      return_classes=False, out=None):
    """The implementation of the estimators' ``explain`` (see :data:`EXPLAIN_DOC`)."""
    from sklearn.utils.validation import check_is_fitted

    check_is_fitted(estimator)
    members = _networks(estimator)
    if method not in METHODS:
        raise InputError(f"method must be one of {list(METHODS)}; got {method!r}.")
    if batch_size is not None and (isinstance(batch_size, bool) or not isinstance(
            batch_size, (int, np.integer)) or batch_size < 1):
        raise InputError(f"batch_size must be None or an integer >= 1; got {batch_size!r}.")
    X = members[0]._check_predict_X(X)
    n_outputs = int(members[0].n_outputs_)
    if classes is None:
        asked = rank_classes(estimator.predict_proba(X), _thresholds(estimator))
    else:
        asked = check_classes(classes, n_outputs, len(X))
    n, (height, width) = len(X), X.shape[1:3]
    shape = (n, asked.shape[1], height, width)
    if out is None:
        out = np.zeros(shape, dtype=np.float32)
    elif tuple(out.shape) != shape or out.dtype != np.float32:
        raise InputError(f"out must be a float32 array of shape {shape}; got {out.dtype} "
                         f"{tuple(out.shape)}.")
    verbose = bool(getattr(members[0], "verbose", 0))
    if method == "gradcam":
        _gradcam_members(members, X, asked, batch_size, out, verbose)
    else:
        _occlusion_members(members, X, asked, batch_size, out, verbose)
    return (out, np.array(asked)) if return_classes else out


def _cam_layer(member):
    spec = BACKBONES.get(getattr(member, "backbone", None))
    return None if spec is None else spec.cam_layer


def _gradcam_members(members, X, classes, batch_size, out, verbose):
    import keras

    m = classes.shape[1]
    rows = min(len(X), *(gradcam_rows(c.model_, X.shape[1:3], m, batch_size or c.batch_size,
                                      _cam_layer(c)) for c in members))
    progress = keras.utils.Progbar(len(X), unit_name="image") if verbose and len(X) > rows \
        else None
    for start in range(0, len(X), rows):
        stop = min(start + rows, len(X))
        batch = _read(X, start, stop)
        total = np.zeros((stop - start, m, *X.shape[1:3]), dtype=np.float32)
        for member in members:
            total += normalize_maps(gradcam_batch(member.model_, batch, classes[start:stop],
                                                  cam_layer=_cam_layer(member),
                                                  tta=member.tta, rows=rows))
        out[start:stop] = normalize_maps(total)
        if progress is not None:
            progress.update(stop)


def _occlusion_members(members, X, classes, batch_size, out, verbose):
    import keras

    predictors = [network_predictor(c.model_, c.tta, X.shape[1:3]) for c in members]
    progress = keras.utils.Progbar(len(X), unit_name="image") if verbose and len(X) > 1 else None
    for i in range(len(X)):
        image = _read(X, i, i + 1)[0]
        total = 0.0
        for member, predict in zip(members, predictors):
            total = total + occlusion_image(predict, image, classes[i],
                                            batch_size=batch_size or member.batch_size)
        out[i] = np.nan_to_num(np.maximum(total / len(members), 0.0))
        if progress is not None:
            progress.update(i + 1)


EXPLAIN_DOC = """Heatmaps of where the network saw each class in each image.

        Parameters
        ----------
        X : array of shape (n_images, height, width, channels)
            Images as :meth:`predict_proba` takes them (a memmap is read one batch at a time).
        classes : None, list of int or str, or array of shape (n_images, m), default=None
            The classes to explain. A list of class ids or names (``CLASS_NAMES``) asks for the
            same classes in every image, in that order; a 2-D array of ids gives each image its
            own. None asks for each image's predicted classes, most confident first: slot j of
            image i holds the class of rank j by ``probability / threshold`` (the model's decision
            thresholds; a tuner's tuned ones), so the classes :meth:`predict` marks for the image
            come first. There are as many slots as the most classes predicted for one image (at
            least 1); an image with fewer fills its other slots with its next candidates.
            ``return_classes=True`` says which class each slot holds.
        method : {"gradcam", "occlusion"}, default="gradcam"
            "gradcam": Grad-CAM on the backbone's last convolutional block (the backbone table's
            ``cam_layer``), the gradient of the class's logit; each map is divided by its
            maximum (1 = where the evidence is strongest; an all-zero map: no positive evidence
            anywhere). About one forward pass per image, whatever the number of classes.
            "occlusion": the drop of the class's probability when a square of 1/8 of the side
            is set to zero (no stain), averaged over the squares covering each pixel; in
            probability units, not rescaled. Model-agnostic (no gradient: a check of Grad-CAM)
            but about 230 forward passes per image.
        batch_size : int, default=None
            Images per Grad-CAM step, or occluded images per forward pass (default: the
            classifier's ``batch_size``; a Grad-CAM step is lowered to hold at most about 2**24
            feature-map values and heatmap pixels).
        return_classes : bool, default=False
            Also return the class ids of the maps, shape (n_images, n_classes).
        out : array of shape (n_images, n_classes, height, width), float32, default=None
            Write the maps into this array (e.g. ``np.lib.format.open_memmap``) instead of a
            new one.

        Returns
        -------
        heatmaps : ndarray of shape (n_images, n_classes, height, width), float32
            Non-negative and finite, at the input's size (also when the network resizes
            images), one map per image and asked class. With test-time augmentation (``tta``)
            each map is the mean of the maps of the views, each turned back; a fold ensemble's
            Grad-CAM map is the mean of its members' maps, divided by its maximum, and its
            occlusion map is the occlusion map of its mean probability.
        classes : ndarray of shape (n_images, n_classes), int
            Only with ``return_classes=True``.

        Notes
        -----
        Grad-CAM's resolution is the feature map's: 1/8 of the input's side for "smallcnn"
        (4x4 cells at 32 px), 1/16 for VGG16's block5_conv3, 1/32 for the other backbones; the
        upsampled map cannot place evidence more finely. See ``docs/explanations.md``.
        """
