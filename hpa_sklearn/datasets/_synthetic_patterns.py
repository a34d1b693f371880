"""The 28 green patterns of the synthetic data set, one per class (index = class id).

Each pattern is a function ``f(scene, sel) -> (len(sel), size, size) float32`` of a
:class:`~hpa_sklearn.datasets._synthetic_scene._Scene` and the indices ``sel`` of its images that carry
the class; it is non-negative and placed relative to the scene's structures (nuclei, microtubules,
endoplasmic reticulum, cell boundaries), so that a model has to relate green to the reference channels.
"""

import numpy as np

from ._synthetic_scene import (
    _FAR,
    _cytoplasm_texture,
    _dot,
    _hash,
    _line,
    _ring,
    _segment_distance,
    _smooth_noise,
    _soft,
    _worm,
)


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
