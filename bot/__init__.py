"""Tandem: a Rasa customer-service assistant for an online retailer."""
