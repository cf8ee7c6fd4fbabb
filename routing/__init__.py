"""Routing: agent queues (ACD) and dispatch of work orders to departments."""
