"""The embedded synthetic data set: HPA-like four-channel images with known labels.

Every image is a small field of cells drawn from a few shared fields: elliptical nuclei (blue), radial
microtubules (red), a reticular endoplasmic reticulum (yellow), and Voronoi cells around the nucleus
centres limited by a radius (the cytoplasm and the cell boundary). The green channel holds one
pattern per positive class, placed relative to those structures, so that a model has to relate green
to the reference channels. All lengths are multiples of the nucleus radius ``u``; each primitive is
blurred by the pixel (``_PIXEL_BLUR``) with its mass kept, so fine structures fade and merge at small
image sizes and are distinct at large ones.
"""

import numbers

import numpy as np
from scipy import ndimage, special
from sklearn.utils import Bunch

from ._constants import CHANNELS, CLASS_NAMES, MIN_IMAGE_SIZE, N_CLASSES
from ._label_stats import LABEL_SET_COUNTS

_LABEL_DISTRIBUTIONS = ("hpa", "uniform")
_MAX_UNIFORM_LABELS = 3

# Pixels per channel rendered together: bounds the float working memory (about 40 float32 planes).
_PIXEL_BUDGET = 2**17
# Standard deviation (px) of the blur of the pixel and the optics, added to every primitive's width.
_PIXEL_BLUR = 0.45
# Width (px) of the soft edge of nuclei and cells.
_EDGE = 1.0
# The nucleus radius is 6.4 px at 64 px and grows as size**0.75: larger images hold more cells,
# each drawn in more detail.
_REFERENCE_SIZE = 64
_FAR = 1e4
# Standard normal quantiles at 2**16 equally likely levels: indexing it with random uint16 draws
# Gaussian numbers (tails cut at 4.3 sd) about three times faster than Generator.standard_normal.
_NORMAL_TABLE = special.ndtri((np.arange(2**16) + 0.5) / 2**16).astype(np.float32)

_SET_INDICATOR = np.zeros((len(LABEL_SET_COUNTS), N_CLASSES), dtype=np.uint8)
for _row, (_label_set, _) in enumerate(LABEL_SET_COUNTS):
    _SET_INDICATOR[_row, list(_label_set)] = 1
_SET_COUNTS = np.array([count for _, count in LABEL_SET_COUNTS], dtype=float)
del _row, _label_set


# ----------------------------------------------------------------------------------------------
# argument checks
# ----------------------------------------------------------------------------------------------
def _check_int(value, name, minimum):
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an integer; got {value!r} of type {type(value).__name__}.")
    if value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}; got {value}.")
    return int(value)


def _check_classes(classes):
    if classes is None:
        return np.arange(N_CLASSES)
    if isinstance(classes, (str, bytes)) or not np.iterable(classes):
        raise TypeError(
            f"classes must be None or a sequence of class ids (integers 0..{N_CLASSES - 1}); "
            f"got {classes!r}. Example: classes=[0, 21, 25]."
        )
    values = list(classes)
    if not values:
        raise ValueError("classes is empty; pass at least one class id, or None for all 28 classes.")
    for value in values:
        if isinstance(value, bool) or not isinstance(value, numbers.Integral):
            raise TypeError(
                f"classes must contain integer class ids 0..{N_CLASSES - 1}; got {value!r} in "
                f"{classes!r}. Class names map to ids through CLASS_NAMES.index(name)."
            )
        if not 0 <= value < N_CLASSES:
            raise ValueError(
                f"classes contains {value}, which is not a class id; ids run from 0 to {N_CLASSES - 1}."
            )
    if len(set(values)) != len(values):
        raise ValueError(f"classes contains repeated ids: {values!r}; list each class once.")
    return np.sort(np.asarray(values, dtype=np.intp))


def _make_rng(random_state):
    if random_state is None or isinstance(random_state, np.random.Generator):
        return np.random.default_rng(random_state)
    if isinstance(random_state, np.random.RandomState):
        return np.random.default_rng(random_state.randint(2**32, dtype=np.uint64))
    if isinstance(random_state, numbers.Integral) and not isinstance(random_state, bool):
        if random_state < 0:
            raise ValueError(f"random_state must be a non-negative integer; got {random_state}.")
        return np.random.default_rng(int(random_state))
    raise TypeError(
        "random_state must be None, a non-negative integer, a numpy.random.Generator or a "
        f"numpy.random.RandomState; got {random_state!r}."
    )


# ----------------------------------------------------------------------------------------------
# labels
# ----------------------------------------------------------------------------------------------
def _sample_labels(n_samples, label_distribution, classes, rng):
    """Return a uint8 indicator matrix (n_samples, 28) whose positives lie in ``classes``."""
    target = np.zeros((n_samples, N_CLASSES), dtype=np.uint8)
    if label_distribution == "hpa":
        # Each real label set restricted to ``classes``; equal restrictions pooled, empty ones dropped.
        restricted, inverse = np.unique(_SET_INDICATOR[:, classes], axis=0, return_inverse=True)
        weights = np.bincount(inverse.ravel(), weights=_SET_COUNTS, minlength=len(restricted))
        keep = restricted.any(axis=1)
        restricted, weights = restricted[keep], weights[keep]
        choice = rng.choice(len(restricted), size=n_samples, p=weights / weights.sum())
        target[:, classes] = restricted[choice]
    else:
        n_labels = rng.integers(1, min(_MAX_UNIFORM_LABELS, len(classes)) + 1, size=n_samples)
        keys = rng.random((n_samples, len(classes)))
        kth = np.take_along_axis(np.sort(keys, axis=1), n_labels[:, None] - 1, axis=1)
        target[:, classes] = keys <= kth
    return target


# ----------------------------------------------------------------------------------------------
# drawing primitives
# ----------------------------------------------------------------------------------------------
def _blurred(sigma):
    return np.sqrt(sigma**2 + _PIXEL_BLUR**2)


def _line(distance, sigma):
    """Profile of a line of width ``sigma`` (px) at ``distance`` (px); its mass is kept when blurred."""
    sigma_b = _blurred(sigma)
    return (sigma / sigma_b) * np.exp(-0.5 * (distance / sigma_b) ** 2)


def _soft(depth):
    """Soft inside-indicator of a region, given the signed depth (px) of a pixel inside it."""
    return np.clip(depth / _EDGE + 0.5, 0.0, 1.0)


def _standard_normal(rng, shape):
    return np.take(_NORMAL_TABLE, rng.integers(0, 2**16, shape, dtype=np.uint16))


def _smooth_noise(rng, shape, sigma):
    """Gaussian random field of unit standard deviation and correlation length ``sigma`` (px)."""
    radius = int(3 * sigma + 0.5)
    weights = np.exp(-0.5 * (np.arange(-radius, radius + 1) / sigma) ** 2)
    weights /= weights.sum()
    field = ndimage.gaussian_filter(
        _standard_normal(rng, shape), sigma=(0, sigma, sigma), mode="wrap", radius=(0, radius, radius)
    )
    # white noise filtered by the separable kernel has variance (sum of squared weights) ** 2
    return field / np.float32(np.sum(weights**2))


def _network(noise):
    """A reticular network: the neighbourhood of the zero set of a smooth random field."""
    return np.exp(-0.5 * (noise / 0.35) ** 2)


def _cytoplasm_texture(cyto, t, noise):
    """A faintly reticular stain of the cytoplasm, fading from the nucleus (t=0) to the boundary."""
    return cyto * (0.45 + 0.55 * _network(noise)) * (1 - 0.5 * t)


def _hash(a, b):
    """Deterministic pseudo-random numbers in [0, 1) from two float arrays (per-ray variation)."""
    return np.modf(np.abs(np.sin(a * 12.9898 + b * 78.233)) * 43758.547)[0]


def _segment_distance(py, px, ay, ax, by, bx):
    """Distance from points (py, px) to the segments from (ay, ax) to (by, bx) (broadcasting)."""
    vy, vx = by - ay, bx - ax
    length2 = np.maximum(vy * vy + vx * vx, 1e-9)
    s = np.clip(((py - ay) * vy + (px - ax) * vx) / length2, 0.0, 1.0)
    return np.hypot(py - ay - s * vy, px - ax - s * vx)


# Shapes drawn at points: (half, profile) with profile(dy, dx) the value at the offsets (px) of the
# pixels from the point, evaluated on the (2 * half + 1) ** 2 pixels around it.
def _dot(sigma):
    sigma_b = _blurred(sigma)

    def profile(dy, dx):
        return (sigma / sigma_b) ** 2 * np.exp(-0.5 * (dy * dy + dx * dx) / sigma_b**2)

    return int(np.ceil(3 * sigma_b)), profile


def _ring(radius, sigma):
    def profile(dy, dx):
        return _line(np.hypot(dy, dx) - radius, sigma)

    return int(np.ceil(radius + 3 * _blurred(sigma))), profile


def _worm(length, sigma, angle, bend):
    """Segments of ``length`` px, one per point at ``angle`` (array), bent by ``bend`` at the middle."""
    half = length / 2
    up, down = (angle + bend)[:, None, None], (angle - bend)[:, None, None]

    def profile(dy, dx):
        return _line(
            np.minimum(
                _segment_distance(dy, dx, 0.0, 0.0, half * np.sin(up), half * np.cos(up)),
                _segment_distance(dy, dx, 0.0, 0.0, -half * np.sin(down), -half * np.cos(down)),
            ),
            sigma,
        )

    return int(np.ceil(half + 3 * _blurred(sigma))), profile


def _draw(n_images, size, image, y, x, amplitude, shape):
    """Draw ``shape`` at the points (image, y, x); return (n_images, size, size) float32."""
    half, profile = shape
    offsets = np.arange(-half, half + 1)
    py = np.rint(y).astype(np.intp)[:, None, None] + offsets[:, None]
    px = np.rint(x).astype(np.intp)[:, None, None] + offsets
    values = amplitude[:, None, None] * profile(py - y[:, None, None], px - x[:, None, None])
    inside = (py >= 0) & (py < size) & (px >= 0) & (px < size)
    flat = (image[:, None, None] * size + py) * size + px
    drawn = np.bincount(flat[inside], weights=values[inside], minlength=n_images * size * size)
    return drawn.reshape(n_images, size, size).astype(np.float32)


# ----------------------------------------------------------------------------------------------
# the scene: cells of one chunk of images and the per-pixel fields derived from them
# ----------------------------------------------------------------------------------------------
class _Scene:
    """Cells of ``n`` images and the per-pixel fields every class is drawn from.

    Per-cell arrays have shape (n, n_cells) (missing cells sit far outside the image); per-pixel
    fields have shape (n, size, size) and refer to the cell whose centre is nearest (``i1``).
    """

    def __init__(self, n, size, rng):
        self.n, self.size, self.rng = n, size, rng
        self.u = u = 0.1 * size * (_REFERENCE_SIZE / size) ** 0.25
        self._place_cells()
        m = self.cy.shape[1]
        shape = (n, m)

        def uniform(low, high, dims=shape):
            return rng.uniform(low, high, dims).astype(np.float32)

        self.a = u * uniform(0.85, 1.15)  # nucleus semi-axes (px) and orientation
        self.b = self.a * uniform(0.7, 0.95)
        theta = uniform(0, np.pi)
        self.cos, self.sin = np.cos(theta), np.sin(theta)
        self.radius = u * uniform(2.0, 2.7)  # cell radius (px)
        self.brightness = uniform(0.6, 1.0)
        self.ray_phase = uniform(0, 2 * np.pi)
        self.ray_period = 2 * np.pi / rng.integers(14, 21, shape).astype(np.float32)
        self.ray_curl = uniform(-0.3, 0.3)
        self.side = uniform(0, 2 * np.pi)  # direction of Golgi, MTOC and centrosome
        self.seed = uniform(0, 100)
        self.fiber_angle = uniform(0, np.pi)  # actin stress fibres
        self.fiber_offset = uniform(0, 1)
        self.adhesion_phase = uniform(0, 2 * np.pi)
        # 1-3 nucleoli per nucleus, in the nucleus frame
        k = 3
        r = uniform(0.15, 0.5, (n, m, k))
        ang = uniform(0, 2 * np.pi, (n, m, k))
        present = np.arange(k) < rng.integers(1, k + 1, shape)[..., None]
        self.nucleolus_y, self.nucleolus_x = self._to_image(
            r * np.sin(ang) * self.b[..., None], r * np.cos(ang) * self.a[..., None]
        )
        self.nucleolus_y[~present] = _FAR
        self.nucleolus_r = u * uniform(0.2, 0.3, (n, m, k))
        self._pixel_fields()

    def _place_cells(self):
        """Nucleus centres by dart throwing: at least 2.6 u apart, a few more in larger images.

        The second centre is 2.7-3.6 u from the first, so that cells 0 and 1 always share a stretch
        of boundary (their radii are at least 2 u).
        """
        n, size, u, rng = self.n, self.size, self.u, self.rng
        mean_count = 0.85 * size**2 / (np.pi * (2.2 * u) ** 2)
        wanted = np.clip(np.rint(rng.normal(mean_count, 1.0, n)), 2, None).astype(int)
        n_candidates = 12 * int(np.ceil(mean_count)) + 24
        margin = 0.4 * u
        cand = rng.uniform(margin, size - margin, (n, n_candidates, 2))
        angle = rng.uniform(0, 2 * np.pi, n)
        offset = rng.uniform(2.7, 3.6, n)[:, None] * u * np.stack([np.sin(angle), np.cos(angle)], 1)
        # mirror an offset coordinate that would leave the image (the distance stays the same)
        leaves = (cand[:, 0] + offset < margin) | (cand[:, 0] + offset > size - margin)
        cand[:, 1] = np.clip(cand[:, 0] + np.where(leaves, -offset, offset), margin, size - margin)
        cy = np.full((n, wanted.max()), _FAR, dtype=np.float32)
        cx = np.full_like(cy, _FAR)
        count = np.zeros(n, dtype=int)
        rows = np.arange(n)
        for j in range(n_candidates):
            free = np.hypot(cy - cand[:, j, :1], cx - cand[:, j, 1:]).min(axis=1) > 2.6 * u
            take = free & (count < wanted)
            cy[rows[take], count[take]] = cand[take, j, 0]
            cx[rows[take], count[take]] = cand[take, j, 1]
            count += take
        m = count.max()
        self.cy, self.cx = cy[:, :m], cx[:, :m]
        self.valid = np.arange(m) < count[:, None]

    def _to_image(self, ly, lx, sel=slice(None)):
        """Nucleus-frame offsets of the cells of images ``sel`` (one trailing axis) to image
        coordinates."""
        cos, sin = self.cos[sel][..., None], self.sin[sel][..., None]
        cy, cx = self.cy[sel][..., None], self.cx[sel][..., None]
        return cy + lx * sin + ly * cos, cx + lx * cos - ly * sin

    def _pixel_fields(self):
        n, size, u, rng = self.n, self.size, self.u, self.rng
        m = self.cy.shape[1]
        grid = np.arange(size, dtype=np.float32)
        yy, xx = grid[:, None], grid[None, :]
        # squared distances to the nearest and the second-nearest centre, and those cells' indices
        first2 = np.full((n, size, size), np.inf, dtype=np.float32)
        second2 = first2.copy()
        i1 = np.zeros((n, size, size), dtype=np.uint8)
        i2 = i1.copy()
        for j in range(m):
            d2 = (yy - self.cy[:, j, None, None]) ** 2 + (xx - self.cx[:, j, None, None]) ** 2
            closer = d2 < first2
            np.copyto(i2, j, where=d2 < second2)
            np.copyto(i2, i1, where=closer)
            np.minimum(second2, np.maximum(first2, d2), out=second2)
            np.copyto(i1, j, where=closer)
            np.minimum(first2, d2, out=first2)
        base = (np.arange(n) * m)[:, None, None]
        self.flat = base + i1  # index of each pixel's cell in the per-cell arrays
        self.i1 = i1
        self.d1 = d1 = np.sqrt(first2)
        self.dy = yy - self.at(self.cy)
        self.dx = xx - self.at(self.cx)
        cos, sin = self.at(self.cos), self.at(self.sin)
        self.xr = self.dx * cos + self.dy * sin  # nucleus frame
        self.yr = self.dy * cos - self.dx * sin
        rho = np.hypot(self.xr / self.at(self.a), self.yr / self.at(self.b))
        self.r_edge = d1 / np.maximum(rho, 1e-6)  # centre to nucleus edge along the pixel's direction
        self.nuc_depth = self.r_edge - d1
        self.nuc = _soft(self.nuc_depth)
        # distance to the cell boundary: the Voronoi bisector or the cell radius, whichever is nearer
        pair = np.hypot(
            self.cy[:, :, None] - self.cy[:, None, :], self.cx[:, :, None] - self.cx[:, None, :]
        )
        spacing = np.take(pair, self.flat * m + i2)
        self.bisector = (second2 - first2) / (2 * np.maximum(spacing, 1e-3))
        # inside the second-nearest cell's radius as well: on a boundary shared by two cells
        self.shared = _soft(np.take(self.radius, base + i2) - np.sqrt(second2))
        self.edge = np.minimum(self.at(self.radius) - d1, self.bisector)
        self.cell = _soft(self.edge)
        self.cyto = self.cell * (1 - self.nuc)
        span = np.maximum(d1 - self.r_edge + self.edge, 1e-3)
        self.t = np.clip((d1 - self.r_edge) / span, 0, 1)  # 0 at the nucleus rim, 1 at the boundary
        self.phi = np.arctan2(self.dy, self.dx)
        # microtubules: curled rays from the nucleus to the boundary
        self.mt_perp, ray = self.ray_distance(slice(None), 0.0, 0.0)
        self.mt_strength = 0.3 + 0.7 * _hash(ray, self.at(self.seed))
        self.mt = 1.6 * _line(self.mt_perp, 0.045 * u) * self.mt_strength * self.cell * (1 - 0.6 * self.nuc)
        # endoplasmic reticulum: a network in the cytoplasm, continuous with the nuclear envelope
        noise = _smooth_noise(rng, (n, size, size), max(0.3 * u, 1.0))
        self.er = _cytoplasm_texture(self.cyto, self.t, noise)
        self.er += 0.2 * _line(self.nuc_depth, 0.06 * u) * self.cell
        # nucleoli, drawn on the nucleus pixels only
        inside = np.flatnonzero(self.nuc_depth > -_EDGE)
        cells = self.flat.ravel()[inside]
        py, px = (inside // size % size).astype(np.float32), (inside % size).astype(np.float32)
        nucleoli = np.zeros(d1.size, dtype=np.float32)
        for k in range(self.nucleolus_y.shape[2]):
            dist = np.hypot(
                py - np.take(self.nucleolus_y[..., k], cells),
                px - np.take(self.nucleolus_x[..., k], cells),
            )
            disc = _soft(np.take(self.nucleolus_r[..., k], cells) - dist)
            nucleoli[inside] = np.maximum(nucleoli[inside], disc)
        self.nucleoli = nucleoli.reshape(d1.shape) * self.nuc
        self.chromatin = 0.85 + 0.15 * np.tanh(noise)

    def at(self, per_cell, sel=slice(None)):
        """A per-cell array read at each pixel of the images ``sel`` (its nearest cell)."""
        return np.take(per_cell, self.flat[sel])

    def ray_distance(self, sel, shift, wave):
        """Distance (px) of each pixel to the nearest ray of its cell, and that ray's index.

        ``shift`` moves the rays by a fraction of their spacing; ``wave`` is the amplitude (px) of a
        sideways sine wave along them.
        """
        d1 = self.d1[sel]
        period = self.at(self.ray_period, sel)
        angle = self.phi[sel] - self.at(self.ray_phase, sel) - self.at(self.ray_curl, sel) * d1 / self.u
        if wave:
            sideways = wave * np.sin(2 * np.pi * d1 / (0.9 * self.u))
            angle = angle + sideways / np.maximum(d1, 0.5 * self.u)
        f = angle / period - shift
        ray = np.floor(f + 0.5)
        return np.abs(f - ray) * period * d1, ray

    # ---- random points, flattened to (image, y, x) over the images ``sel`` ----------------------
    def _slots(self, sel, low, high):
        """(n_images, n_cells, high) mask: ``low``..``high`` used slots per existing cell."""
        valid = self.valid[sel]
        count = self.rng.integers(low, high + 1, valid.shape) * valid
        return np.arange(high) < count[..., None]

    def nucleus_points(self, sel, low, high, spread=0.85):
        """``low``..``high`` uniform random points inside each nucleus."""
        slots = self._slots(sel, low, high)
        r = spread * np.sqrt(self.rng.random(slots.shape))
        ang = self.rng.uniform(0, 2 * np.pi, slots.shape)
        y, x = self._to_image(
            r * np.sin(ang) * self.b[sel][..., None], r * np.cos(ang) * self.a[sel][..., None], sel
        )
        image = np.broadcast_to(np.arange(len(y))[:, None, None], slots.shape)
        return image[slots], y[slots], x[slots]

    def cytoplasm_points(self, sel, low, high, t_low=0.0, t_high=1.0):
        """About ``low``..``high`` random points per cell in the cytoplasm.

        A point lies 0.15 u plus the fraction ``t_low``..``t_high`` of the way from the nucleus rim
        to the cell radius; points that fall in a neighbouring cell or outside the image are dropped.
        """
        slots = self._slots(sel, low, high)
        ang = self.rng.uniform(0, 2 * np.pi, slots.shape)
        cy, cx = self.cy[sel][..., None], self.cx[sel][..., None]
        a, b = self.a[sel][..., None], self.b[sel][..., None]
        rel = ang - np.arctan2(self.sin[sel], self.cos[sel])[..., None]
        rim = 1 / np.hypot(np.cos(rel) / a, np.sin(rel) / b)
        dist = rim + self.rng.uniform(t_low, t_high, slots.shape) * (self.radius[sel][..., None] - rim)
        dist = dist + 0.15 * self.u
        y, x = cy + dist * np.sin(ang), cx + dist * np.cos(ang)
        # keep the points whose nearest centre is their own cell's
        to_all = np.hypot(
            y[..., None] - self.cy[sel][:, None, None, :], x[..., None] - self.cx[sel][:, None, None, :]
        )
        own = to_all.argmin(axis=-1) == np.arange(slots.shape[1])[None, :, None]
        inside = (y >= 0) & (y <= self.size - 1) & (x >= 0) & (x <= self.size - 1)
        keep = slots & own & inside
        image = np.broadcast_to(np.arange(keep.shape[0])[:, None, None], keep.shape)
        return image[keep], y[keep], x[keep]

    def cell_points(self, sel, offset, perpendicular=0.0):
        """One point per cell, ``offset`` px beyond the nucleus rim in the cell's ``side`` direction,
        moved ``perpendicular`` px sideways."""
        valid = self.valid[sel]
        side = self.side[sel]
        rel = side - np.arctan2(self.sin[sel], self.cos[sel])
        rim = 1 / np.hypot(np.cos(rel) / self.a[sel], np.sin(rel) / self.b[sel])
        y = self.cy[sel] + (rim + offset) * np.sin(side) + perpendicular * np.cos(side)
        x = self.cx[sel] + (rim + offset) * np.cos(side) - perpendicular * np.sin(side)
        image = np.broadcast_to(np.arange(valid.shape[0])[:, None], valid.shape)
        return image[valid], y[valid], x[valid]

    def draw(self, sel, points, amplitude, shape):
        """Draw ``shape`` at ``points``, each at ``amplitude`` times a random factor in [0.6, 1]."""
        image, y, x = points
        weights = amplitude * self.rng.uniform(0.6, 1.0, len(y))
        return _draw(len(self.d1[sel]), self.size, image, y, x, weights, shape)


# ----------------------------------------------------------------------------------------------
# one green pattern per class: f(scene, sel) -> (len(sel), size, size) float32
# ----------------------------------------------------------------------------------------------
def _nucleoplasm(sc, sel):
    texture = 0.8 + 0.2 * np.tanh(_smooth_noise(sc.rng, sc.d1[sel].shape, max(0.2 * sc.u, 0.8)))
    return sc.nuc[sel] * (1 - 0.8 * sc.nucleoli[sel]) * texture


def _nuclear_membrane(sc, sel):
    return 1.2 * _line(sc.nuc_depth[sel], 0.05 * sc.u) * sc.cell[sel]


def _nucleoli(sc, sel):
    return sc.nucleoli[sel]


def _fibrillar_center(sc, sel):
    present = sc.nucleolus_y[sel] < _FAR / 2
    slots = present[..., None] & (np.arange(3) < sc.rng.integers(1, 4, present.shape)[..., None])
    r = sc.nucleolus_r[sel][..., None] * 0.5 * np.sqrt(sc.rng.random(slots.shape))
    ang = sc.rng.uniform(0, 2 * np.pi, slots.shape)
    y = sc.nucleolus_y[sel][..., None] + r * np.sin(ang)
    x = sc.nucleolus_x[sel][..., None] + r * np.cos(ang)
    image = np.broadcast_to(np.arange(len(y))[:, None, None, None], slots.shape)
    return sc.draw(sel, (image[slots], y[slots], x[slots]), 3.0, _dot(0.045 * sc.u))


def _nuclear_speckles(sc, sel):
    speckles = sc.draw(sel, sc.nucleus_points(sel, 10, 25), 1.5, _dot(0.07 * sc.u))
    return speckles + 0.12 * sc.nuc[sel]


def _nuclear_bodies(sc, sel):
    return sc.draw(sel, sc.nucleus_points(sel, 1, 5, spread=0.7), 2.0, _dot(0.09 * sc.u))


def _endoplasmic_reticulum(sc, sel):
    return sc.er[sel]


def _golgi(sc, sel):
    rel = (sc.phi[sel] - sc.at(sc.side, sel) + np.pi) % (2 * np.pi) - np.pi
    ring = np.exp(-0.5 * ((sc.d1[sel] - sc.r_edge[sel] - 0.3 * sc.u) / (0.18 * sc.u)) ** 2)
    texture = 0.6 + 0.4 * np.tanh(_smooth_noise(sc.rng, rel.shape, max(0.12 * sc.u, 0.6)))
    return 1.6 * np.exp(-0.5 * (rel / 0.45) ** 2) * ring * texture * sc.cyto[sel]


def _peroxisomes(sc, sel):
    return sc.draw(sel, sc.cytoplasm_points(sel, 15, 30), 3.0, _dot(0.04 * sc.u))


def _endosomes(sc, sel):
    return sc.draw(sel, sc.cytoplasm_points(sel, 6, 12, 0.2, 0.9), 2.0, _dot(0.08 * sc.u))


def _lysosomes(sc, sel):
    return sc.draw(sel, sc.cytoplasm_points(sel, 4, 8, 0.0, 0.35), 1.5, _dot(0.13 * sc.u))


def _intermediate_filaments(sc, sel):
    # like the microtubules in green alone, but wavy and halfway between them
    perp, ray = sc.ray_distance(sel, 0.5, 0.08 * sc.u)
    strength = 0.3 + 0.7 * _hash(ray, sc.at(sc.seed, sel) + 1)
    return 1.6 * _line(perp, 0.045 * sc.u) * strength * sc.cell[sel] * (1 - 0.6 * sc.nuc[sel])


def _actin_filaments(sc, sel):
    angle = sc.at(sc.fiber_angle, sel)
    across = sc.dy[sel] * np.cos(angle) - sc.dx[sel] * np.sin(angle)
    f = across / (0.35 * sc.u) + sc.at(sc.fiber_offset, sel)
    fibres = 1.6 * _line(np.abs(f - np.rint(f)) * 0.35 * sc.u, 0.04 * sc.u)
    return fibres * sc.cell[sel] * (1 - 0.5 * sc.nuc[sel])


def _focal_adhesions(sc, sel):
    period = 2 * np.pi / 24
    f = (sc.phi[sel] - sc.at(sc.adhesion_phase, sel)) / period
    perp = np.abs(f - np.rint(f)) * period * sc.d1[sel]
    band = np.exp(-0.5 * ((sc.edge[sel] - 0.15 * sc.u) / (0.12 * sc.u)) ** 2)
    return 1.5 * _line(perp, 0.06 * sc.u) * band * sc.cell[sel]


def _microtubules(sc, sel):
    return sc.mt[sel]


def _microtubule_ends(sc, sel):
    band = np.exp(-0.5 * ((sc.edge[sel] - 0.15 * sc.u) / (0.08 * sc.u)) ** 2)
    return 2.0 * _line(sc.mt_perp[sel], 0.05 * sc.u) * sc.mt_strength[sel] * band * sc.cell[sel]


def _cytokinetic_bridge(sc, sel):
    """A thin line between the first cell's nucleus and its nearest neighbour, with a midbody."""
    cy, cx = sc.cy[sel], sc.cx[sel]
    gap = np.hypot(cy[:, 1:] - cy[:, :1], cx[:, 1:] - cx[:, :1])
    other = 1 + gap.argmin(axis=1)
    rows = np.arange(len(cy))
    ay, ax, by, bx = cy[:, 0], cx[:, 0], cy[rows, other], cx[rows, other]
    grid = np.arange(sc.size, dtype=np.float32)
    ends = (v[:, None, None].astype(np.float32) for v in (ay, ax, by, bx))
    dist = _segment_distance(grid[None, :, None], grid[None, None, :], *ends)
    line = 1.5 * _line(dist, 0.06 * sc.u) * (1 - sc.nuc[sel])
    midbody = (rows, (ay + by) / 2, (ax + bx) / 2)
    return line + sc.draw(sel, midbody, 2.5, _dot(0.12 * sc.u))


def _mitotic_spindle(sc, sel):
    """Curved fibres between two poles across the first cell's nucleus, along its long axis."""
    xr, yr = sc.xr[sel], sc.yr[sel]
    half = 0.9 * sc.at(sc.a, sel)
    width = sc.at(sc.b, sel)
    bulge = 1 - np.minimum((xr / half) ** 2, 1)
    fibres = sum(
        _line(np.abs(yr - h * width * bulge), 0.04 * sc.u) for h in (-0.5, -0.25, 0.0, 0.25, 0.5)
    )
    poles = 2.0 * _line(np.hypot(np.abs(xr) - half, yr), 0.1 * sc.u)
    return (fibres * _soft(half - np.abs(xr)) + poles) * (sc.i1[sel] == 0)


def _mtoc(sc, sel):
    return sc.draw(sel, sc.cell_points(sel, 0.2 * sc.u), 2.5, _dot(0.1 * sc.u))


def _centrosome(sc, sel):
    pairs = [sc.cell_points(sel, 0.2 * sc.u, side * 0.15 * sc.u) for side in (-1, 1)]
    points = tuple(np.concatenate(parts) for parts in zip(*pairs))
    return sc.draw(sel, points, 3.0, _dot(0.06 * sc.u))


def _lipid_droplets(sc, sel):
    return sc.draw(sel, sc.cytoplasm_points(sel, 3, 8), 1.5, _ring(0.14 * sc.u, 0.04 * sc.u))


def _plasma_membrane(sc, sel):
    return 1.3 * _line(sc.edge[sel], 0.06 * sc.u)


def _cell_junctions(sc, sel):
    own = _soft(sc.at(sc.radius, sel) - sc.d1[sel])
    return 1.5 * _line(sc.bisector[sel], 0.06 * sc.u) * own * sc.shared[sel]


def _mitochondria(sc, sel):
    points = sc.cytoplasm_points(sel, 10, 25, 0.0, 0.8)
    n = len(points[0])
    angle, bend = sc.rng.uniform(0, np.pi, n), sc.rng.uniform(-0.5, 0.5, n)
    return sc.draw(sel, points, 1.2, _worm(0.4 * sc.u, 0.05 * sc.u, angle, bend))


def _aggresome(sc, sel):
    return sc.draw(sel, sc.cell_points(sel, 0.5 * sc.u), 1.6, _dot(0.28 * sc.u))


def _cytosol(sc, sel):
    # looks like the endoplasmic reticulum in green alone, but is independent of yellow
    noise = _smooth_noise(sc.rng, sc.d1[sel].shape, max(0.3 * sc.u, 1.0))
    return _cytoplasm_texture(sc.cyto[sel], sc.t[sel], noise)


def _cytoplasmic_bodies(sc, sel):
    return sc.draw(sel, sc.cytoplasm_points(sel, 1, 3, 0.1, 0.8), 1.5, _dot(0.16 * sc.u))


def _rods_and_rings(sc, sel):
    image, y, x = sc.cytoplasm_points(sel, 1, 3, 0.1, 0.8)
    ring = sc.rng.random(len(y)) < 0.3
    rod = ~ring
    angle = sc.rng.uniform(0, np.pi, rod.sum())
    rods = _worm(0.6 * sc.u, 0.05 * sc.u, angle, 0.0)
    rings = _ring(0.25 * sc.u, 0.05 * sc.u)
    return sc.draw(sel, (image[rod], y[rod], x[rod]), 1.5, rods) + sc.draw(
        sel, (image[ring], y[ring], x[ring]), 1.5, rings
    )


# index = class id
_PATTERNS = (
    _nucleoplasm,
    _nuclear_membrane,
    _nucleoli,
    _fibrillar_center,
    _nuclear_speckles,
    _nuclear_bodies,
    _endoplasmic_reticulum,
    _golgi,
    _peroxisomes,
    _endosomes,
    _lysosomes,
    _intermediate_filaments,
    _actin_filaments,
    _focal_adhesions,
    _microtubules,
    _microtubule_ends,
    _cytokinetic_bridge,
    _mitotic_spindle,
    _mtoc,
    _centrosome,
    _lipid_droplets,
    _plasma_membrane,
    _cell_junctions,
    _mitochondria,
    _aggresome,
    _cytosol,
    _cytoplasmic_bodies,
    _rods_and_rings,
)

# per-sample gain ranges of the channels red, green, blue, yellow
_GAINS = ((0.5, 0.9), (0.55, 1.0), (0.6, 1.0), (0.45, 0.85))


def _render(out, target, noise, rng):
    """Draw the images of ``target`` (n, 28) into ``out`` (n, size, size, 4) uint8."""
    n, size = out.shape[:2]
    sc = _Scene(n, size, rng)
    green = 0.03 * sc.cell
    for k in np.flatnonzero(target.any(axis=0)):
        sel = np.flatnonzero(target[:, k])
        weight = rng.uniform(0.6, 1.0, (len(sel), 1, 1)).astype(np.float32)
        green[sel] += weight * _PATTERNS[k](sc, sel)
    red = sc.mt + 0.12 * sc.cell
    blue = sc.nuc * sc.at(sc.brightness) * sc.chromatin * (1 - 0.5 * sc.nucleoli)
    for c, field in enumerate((red, green, blue, sc.er)):
        gain = rng.uniform(*_GAINS[c], (n, 1, 1)).astype(np.float32)
        value = field * gain + rng.uniform(0.005, 0.04, (n, 1, 1)).astype(np.float32)
        if noise:
            scale = noise * np.sqrt(np.maximum(value, 0) + 0.1)
            value += scale * _standard_normal(rng, value.shape)
        out[..., c] = np.clip(value * 255 + 0.5, 0, 255)


def make_hpa_like(
    n_samples=1000,
    image_size=64,
    *,
    random_state=None,
    label_distribution="hpa",
    classes=None,
    noise=0.04,
    return_X_y=False,
):
    """Generate an HPA-like data set: four-channel cell images with multi-label protein locations.

    Each image shows a few cells (more in larger images): blue elliptical nuclei, red microtubules
    radiating through the cytoplasm, a yellow reticular endoplasmic reticulum denser near the
    nucleus, and a green protein whose location relative to those structures encodes the classes;
    every one of the 28 classes has its own green pattern (e.g. Nucleoplasm fills the nuclei,
    Microtubules copies the red filaments, Endoplasmic reticulum copies the yellow network, Plasma
    membrane outlines the cells, Peroxisomes are many tiny cytoplasmic dots). Telling them apart
    needs the reference channels, and small structures need resolution: at 32 px dots blur into
    diffuse stains, at 128 px they are distinct. Intensities vary per sample, and the images have a
    background and camera noise.

    Labels follow the real competition data by default: whole label sets are drawn from the
    empirical distribution of ``train.csv`` (31,072 images), so class frequencies, co-occurrence
    and the number of labels per image match the real data in expectation.

    Parameters
    ----------
    n_samples : int, default=1000
        Number of images.

    image_size : int, default=64
        Side of the square images in pixels, at least ``MIN_IMAGE_SIZE`` (32). The nucleus radius is
        about ``0.1 * image_size * (64 / image_size) ** 0.25`` px, so larger images hold a few more
        cells, drawn in more detail.

    random_state : int, numpy.random.Generator, numpy.random.RandomState or None, default=None
        Seed of ``numpy.random.default_rng``; an integer gives the same data set every time. A
        ``RandomState`` seeds a new generator from one draw.

    label_distribution : {"hpa", "uniform"}, default="hpa"
        ``"hpa"``: label sets drawn from the real ``train.csv`` distribution (every image has at
        least one label; rare classes such as Rods & rings, 0.04 %, occur at their real rate).
        ``"uniform"``: one to three labels per image (equally likely), chosen uniformly, so every
        class is equally frequent.

    classes : sequence of int or None, default=None
        Class ids (0..27) that may be positive; the others are always 0. With ``"hpa"``, each real
        label set is restricted to these classes and sets left empty are not drawn (the relative
        frequencies and co-occurrence of the kept classes stay real). None means all 28 classes.

    noise : float, default=0.04
        Strength of the camera noise, relative to the full intensity scale: Gaussian noise of
        standard deviation ``noise * sqrt(v + 0.1)`` at intensity ``v`` in [0, 1] (shot noise, whose
        variance grows with the signal, plus read noise). 0 gives noise-free images.

    return_X_y : bool, default=False
        If True, return ``(images, target)`` instead of a Bunch.

    Returns
    -------
    data : :class:`~sklearn.utils.Bunch`
        Dictionary-like object with the attributes:

        images : ndarray of shape (n_samples, image_size, image_size, 4), dtype uint8
            The images, channels in the order red, green, blue, yellow.
        target : ndarray of shape (n_samples, 28), dtype uint8
            The 0/1 label indicator matrix; every row has at least one 1.
        ids : ndarray of shape (n_samples,), dtype object
            Unique sample ids (str) usable as file names: ``"synthetic-000000"``,
            ``"synthetic-000001"``, ...
        target_names : list of str
            The 28 class names, index = class id.
        channels : list of str
            ``["red", "green", "blue", "yellow"]``.
        DESCR : str
            A description of the data set and of the arguments that made it.

    (images, target) : tuple of ndarray
        Returned instead when ``return_X_y`` is True.

    Examples
    --------
    >>> from hpa_sklearn.datasets import make_hpa_like
    >>> data = make_hpa_like(n_samples=4, image_size=32, random_state=0)
    >>> data.images.shape, data.images.dtype
    ((4, 32, 32, 4), dtype('uint8'))
    >>> data.target.shape
    (4, 28)
    >>> bool(data.target.sum(axis=1).min() >= 1)
    True
    >>> data.ids[0]
    'synthetic-000000'
    >>> X, Y = make_hpa_like(n_samples=6, image_size=32, classes=[0, 21, 25],
    ...                      label_distribution="uniform", random_state=0, return_X_y=True)
    >>> sorted(set(Y.nonzero()[1].tolist()))
    [0, 21, 25]
    """
    n_samples = _check_int(n_samples, "n_samples", 1)
    image_size = _check_int(image_size, "image_size", MIN_IMAGE_SIZE)
    if label_distribution not in _LABEL_DISTRIBUTIONS:
        raise ValueError(
            f"label_distribution must be one of {_LABEL_DISTRIBUTIONS}; got {label_distribution!r}. "
            "Use 'hpa' for the real label frequencies or 'uniform' for balanced classes."
        )
    class_ids = _check_classes(classes)
    if isinstance(noise, bool) or not isinstance(noise, numbers.Real):
        raise TypeError(f"noise must be a number >= 0; got {noise!r} of type {type(noise).__name__}.")
    if not 0 <= noise < np.inf:
        raise ValueError(f"noise must be a finite number >= 0 (0 for clean images); got {noise}.")
    if not isinstance(return_X_y, (bool, np.bool_)):
        raise TypeError(f"return_X_y must be True or False; got {return_X_y!r}.")
    rng = _make_rng(random_state)

    target = _sample_labels(n_samples, label_distribution, class_ids, rng)
    images = np.empty((n_samples, image_size, image_size, len(CHANNELS)), dtype=np.uint8)
    chunk = max(1, _PIXEL_BUDGET // image_size**2)
    for start in range(0, n_samples, chunk):
        stop = min(start + chunk, n_samples)
        _render(images[start:stop], target[start:stop], float(noise), rng)
    if return_X_y:
        return images, target

    width = max(6, len(str(n_samples - 1)))
    ids = np.array([f"synthetic-{i:0{width}d}" for i in range(n_samples)], dtype=object)
    descr = (
        "HPA-like synthetic images (hpa_sklearn.datasets.make_hpa_like).\n"
        f"{n_samples} images of {image_size}x{image_size} px, channels red (microtubules), green "
        "(protein of interest), blue (nucleus), yellow (endoplasmic reticulum); 28 Human Protein "
        "Atlas location classes, one green pattern each, multi-label.\n"
        f"label_distribution={label_distribution!r}, classes="
        f"{'all' if classes is None else class_ids.tolist()}, noise={noise}, "
        f"random_state={random_state!r}."
    )
    return Bunch(
        images=images,
        target=target,
        ids=ids,
        target_names=list(CLASS_NAMES),
        channels=list(CHANNELS),
        DESCR=descr,
    )
