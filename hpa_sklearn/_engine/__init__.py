"""The training engine: registries (backbones, schedules, losses, optimizers), the network
builder, batch feeding, the training loop with checkpoints and signals, prediction and the range
test. It takes plain configurations (:class:`~hpa_sklearn._engine.config.TrainingConfig`) and never
imports an estimator class."""
