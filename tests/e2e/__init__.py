"""End-to-end tests: the command line, faults, examples, docs, benchmarks, property tests."""
