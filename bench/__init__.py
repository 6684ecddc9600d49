"""Benchmarks of rivernet and the synthetic data they run on.

- :mod:`bench.synthetic`: seeded synthetic river networks and administrative units;
- :mod:`bench._report`: result rows, timing, the text table and the JSON file;
- one module per benchmark (``python -m bench NAME``; ``python -m bench --help`` lists them):
  :mod:`bench.network`, :mod:`bench.boundary`, :mod:`bench.coverage`, :mod:`bench.maps`,
  :mod:`bench.tiles` and :mod:`bench.server`.
"""
