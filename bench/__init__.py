"""Benchmarks: run with `make bench`; `make test` runs each at a tiny size."""
