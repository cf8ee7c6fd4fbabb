"""The bot's dialogue engine: NLU + knowledge base + work-order slot filling + hand-off to agents."""
