"""channels/email package."""
