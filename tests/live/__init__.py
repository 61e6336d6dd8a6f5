"""Opt-in live suite (issue #5 §4): the collectors against real accounts.

Each cloud's file runs only when its variable is set (`OPTIMIZER_LIVE_AWS=1`,
`OPTIMIZER_LIVE_AZURE=1`, `OPTIMIZER_LIVE_GCP=1`) and otherwise skips with the reason;
credentials come from each SDK's own chain, as in production. See docs/collectors-*.md.
"""
