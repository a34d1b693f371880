"""Input and output: atomic writes, what belongs to the library, locks, the saved-model format
and its one validator."""
