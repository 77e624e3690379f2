"""Benchmarks of the generated data layer, run with ``python -m bench`` (``make bench``).

Every number is a ratio against a baseline measured in the same run, on the same connection,
with interleaved rounds: absolute timings depend on the machine, ratios much less.
"""
