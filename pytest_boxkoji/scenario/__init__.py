"""Declarative scenarios: what the hub must contain before a test runs.

schema (typed models), loader (YAML with file:line positions, includes, search path),
check (references, cycles, duplicates), apply (hub API, multicall, dependency order),
snapshots (template databases for a clean copy per test).
"""
