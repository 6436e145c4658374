"""Where outgoing mail leaves the gateway: an SMTP relay or a local Maildir."""
