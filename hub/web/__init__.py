"""The hub's aiohttp application: citizen chat, REST channel, agent inbox, login, health."""
