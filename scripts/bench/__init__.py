"""Benchmarks of the escalation console: `make bench` or `python -m scripts.bench [names] [--quick]`.

Each benchmark is a module with `run(quick) -> str`, the one summary line it prints. They print
figures; they never fail on a slow machine. docs/performance.md says how to read them.
"""
