"""Measurements of the system, run by `make bench`; results go to BENCHMARKS.md. Not tests: nothing here
asserts a timing, and the suite never runs it."""
