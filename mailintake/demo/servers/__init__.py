"""Local mail servers for the demo — loopback only, no TLS: pymap's in-memory IMAP server on a
background thread, an aiosmtpd sink that keeps what it accepts, and an APPEND helper.
"""
