"""The training losses, a table (:data:`LOSSES`): an entry adds one, and the classifier's
parameter constraint and the command line's ``--loss`` choices are read from it (without importing
Keras). Both entries are :class:`~hpa_sklearn._engine.keras_objects.MultilabelFocalLoss` (binary
cross-entropy per label, optionally focal and class-weighted)."""

from dataclasses import dataclass
from typing import Callable


def _focal(gamma, pos_weight):
    from .keras_objects import MultilabelFocalLoss

    return MultilabelFocalLoss(gamma=gamma, pos_weight=pos_weight)


@dataclass(frozen=True)
class Loss:
    """One entry of :data:`LOSSES`: ``make(focal_gamma=, pos_weight=)`` gives the Keras loss."""

    name: str
    make: Callable
    description: str = ""


LOSSES = {
    entry.name: entry
    for entry in (
        Loss("binary_crossentropy",
             lambda *, focal_gamma, pos_weight: _focal(0.0, pos_weight),
             "per-label binary cross-entropy (the report's loss)"),
        Loss("focal",
             lambda *, focal_gamma, pos_weight: _focal(focal_gamma, pos_weight),
             "focal loss (Lin et al.) with focal_gamma: rare classes weigh more"),
    )
}
