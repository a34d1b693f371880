"""The cell scene of the synthetic data set: drawing primitives and the per-image cell geometry.

Every image of :func:`~hpa_sklearn.datasets.make_hpa_like` is a small field of cells drawn from a few
shared fields: elliptical nuclei (blue), radial microtubules (red), a reticular endoplasmic reticulum
(yellow), and Voronoi cells around the nucleus centres limited by a radius (the cytoplasm and the cell
boundary). :class:`_Scene` holds those cells and fields for one chunk of images; the class patterns of
the green channel (``_synthetic_patterns``) are drawn from them. All lengths are multiples of the
nucleus radius ``u``; each primitive is blurred by the pixel (``_PIXEL_BLUR``) with its mass kept, so
fine structures fade and merge at small image sizes and are distinct at large ones.
"""

import numpy as np
from scipy import ndimage, special

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
