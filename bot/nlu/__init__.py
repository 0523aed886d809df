"""Tandem's NLU on torch + transformers: intents, entities and emotion from one encoder pass."""
