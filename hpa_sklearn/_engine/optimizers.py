"""The optimizers of training, a table (:data:`OPTIMIZERS`): an entry adds one, and the
classifier's parameter constraint and the command line's ``--optimizer`` choices are read from it
(without importing Keras)."""

from dataclasses import dataclass


@dataclass(frozen=True)
class Optimizer:
    """One entry of :data:`OPTIMIZERS`: the Keras optimizer class it creates."""

    name: str
    keras_class: str
    description: str = ""

    def make(self, learning_rate):
        """The optimizer with ``learning_rate`` (a float or a Keras schedule)."""
        import keras

        return keras.optimizers.get({"class_name": self.keras_class,
                                     "config": {"learning_rate": learning_rate}})


OPTIMIZERS = {
    entry.name: entry
    for entry in (
        Optimizer("adam", "Adam", "the report's choice"),
        Optimizer("adagrad", "Adagrad", "in the report's table"),
        Optimizer("adamax", "Adamax", "in the report's table"),
        Optimizer("sgd", "SGD"),
        Optimizer("rmsprop", "RMSprop"),
        Optimizer("adamw", "AdamW"),
        Optimizer("nadam", "Nadam"),
    )
}
