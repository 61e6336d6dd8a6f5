"""Azure collector (issue #5): Cost Management query.usage -> FOCUS cost records."""
