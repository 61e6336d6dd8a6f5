"""The weekly FinOps report (issue #6 §5): gather from the store, render, deliver.

Kept import-light: `optimizer.config` imports `settings` from here on every command.
"""
