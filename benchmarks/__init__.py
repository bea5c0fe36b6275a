"""Benchmark scripts: one module per benchmark, each with ``main(argv)`` printing a markdown
table. Run them all with ``python -m benchmarks``, some with ``python -m benchmarks NAME ...``,
small with ``--quick``. Modules whose names start with ``_`` are helpers, not benchmarks."""
