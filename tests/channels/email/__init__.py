"""Tests of the email channel (dovecot + aiosmtpd on 127.0.0.1)."""
