"""Every SMTP reply the gateway sends: code, enhanced status code (RFC 3463) and text.

Tests compare against these names. Policy refusals are 5xx with a reason; our own
failures are 4xx so that the sending MTA retries (DESIGN.md, principle 2).
"""

from __future__ import annotations

RECIPIENT_OK = "250 2.1.5 Recipient OK"
# Sent once the mail is durably spooled; the pipeline decides what it becomes.
ACCEPTED = "250 2.0.0 Message accepted"

UNKNOWN_RECIPIENT = "550 5.1.1 <{address}>: no such community or address here"
RELAY_DENIED = "550 5.7.1 <{address}>: relaying denied, this server only takes mail for @{domain}"
COMMUNITY_CLOSED = "550 5.7.1 <{address}>: the community {slug} is closed to new posts"
TOO_MANY_RECIPIENTS = "452 4.5.3 Too many recipients (at most {limit} per message)"
MESSAGE_TOO_BIG = "552 5.3.4 Message too big (at most {limit} bytes)"
# A line past GatewaySMTP.line_length_limit (aiosmtpd's wording).
LINE_TOO_LONG = "500 Line too long (see RFC5321 4.5.3.1.6)"
# Our own failure at any command (logged with its traceback): the sender's MTA retries.
TEMPORARY_FAILURE = "451 4.3.0 Temporary failure in the gateway, please try again later"
# The same at connection time, where a reply other than 220 must close the session.
UNAVAILABLE = "421 4.3.0 Temporary failure in the gateway, please try again later"
# At connection time, past [smtp] max_sessions.
TOO_MANY_CONNECTIONS = "421 4.7.0 Too many connections, try again later"
# At DATA, when the messages arriving together would pass [smtp] max_data_memory.
INSUFFICIENT_STORAGE = "452 4.3.1 Insufficient system storage"
SHUTTING_DOWN = "421 4.3.2 Service shutting down, please try again later"
