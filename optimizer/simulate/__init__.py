"""`optimizer simulate SCENARIO.yaml`: what-if planning on a copy of the store.

`scenario` (the file's models), `load` (YAML with line numbers, errors), `copy` (the
store snapshot), `transform` (price, demand and region changes on the copy),
`policy_edits` (policy changes and commitments bought), `outcome` (plan one copy and
summarise it), `compare` (baseline beside scenario), `run` (all of it). See
docs/simulate.md.
"""
