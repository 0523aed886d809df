"""Rasa SDK actions: thin translations between Rasa and the logic in `bot`."""
