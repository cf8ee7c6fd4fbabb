"""channels/voice package."""
