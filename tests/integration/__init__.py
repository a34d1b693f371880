"""Integration tests: the library's parts together, training small Keras networks."""
