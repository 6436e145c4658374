"""The SMTP edge: aiosmtpd hooks that refuse early, and every reply text."""
