"""channels/sms package."""
