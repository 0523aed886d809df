"""Tandem's web console (aiohttp): the analytics dashboard now, the agents' handoff console next."""
