"""The IMAP side, read-only: the client (new UIDs, sizes, dates, raw mail), login and TLS session,
one-line errors, and IMAP IDLE.
"""
