"""Rexian hub: domain model, storage, events, dialogue engine, HTTP app and auth."""
