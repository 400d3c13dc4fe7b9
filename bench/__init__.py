"""Benchmarks and load tests for Tandem, with their data generator (see README.md)."""
