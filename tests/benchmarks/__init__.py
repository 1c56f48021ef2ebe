"""Benchmarks of ModelDesk against its goals and against MLflow: ``python -m tests.benchmarks``.

Modules are named ``bench_*.py`` so that ``make test`` never collects them.
"""
