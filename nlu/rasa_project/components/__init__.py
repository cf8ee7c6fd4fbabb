"""Custom Rasa graph components for the Rexian NLU model (imported by Rasa, not by the hub)."""
