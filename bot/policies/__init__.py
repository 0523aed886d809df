"""Tandem's own dialogue policies (Rasa GraphComponents)."""
