"""Benchmarks (``make bench``): each module has ``run() -> list[(name, value, target)]``."""
