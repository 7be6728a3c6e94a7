"""Benchmarks: ``make bench`` (all) or ``make bench BENCH_ARGS=NAME``; see bench/README.md."""
