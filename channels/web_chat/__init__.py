"""channels/web_chat package."""
