"""Unit tests: the fast tier (no Keras network is built or trained, no command is run end to end).

Run this tier alone with ``python -m pytest tests/unit`` (or ``-m unit`` from the whole suite)."""
