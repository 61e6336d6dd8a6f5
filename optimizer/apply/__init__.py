"""Apply approved storage-tiering recommendations through the clouds' own APIs.

Dry run by default; `--execute` applies approved changes one at a time under a store
lock, within blast-radius limits, recording the live state before each change so
`optimizer rollback` can restore it. Cloud SDK imports live only in the
`*_adapter.py` modules here; the `*_mapping.py` beside them are pure.
"""
