"""The command layer: one module per command group, each only parsing arguments and calling library functions.

``psalm_bench.cli`` assembles them into the Typer app. Nothing below this
layer imports it (the import-linter contracts in pyproject.toml hold that).
"""
