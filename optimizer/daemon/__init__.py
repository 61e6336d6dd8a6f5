"""`optimizer daemon`: the nightly run on a cron schedule, with Prometheus metrics and
JSON logs (settings.py, schedule.py, metrics.py, logs.py, loop.py)."""
