"""Process analytics over Rasa's tracker store: ETL into analytics tables, metrics, process mining, reports.

See docs/analytics.md for every definition.
"""
