"""Benchmarks of rivernet and the synthetic data they run on.

- :mod:`bench.synthetic`: seeded synthetic river networks and administrative units;
- :mod:`bench.network`: the array core against networkx (``python -m bench network``).
"""
