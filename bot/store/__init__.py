"""Retail store: SQLAlchemy models, deterministic demo seeding and the queries the actions call."""
