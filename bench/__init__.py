"""Benchmarks of issue 10: how fast the system does its job on this machine, as ratios against the raw ceilings of
its own parts measured in the same run (``python -m bench``, ``make bench``; README "Benchmarks")."""
