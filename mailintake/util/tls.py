"""The TLS context of our client connections (IMAP and SMTP), built the same way for both."""

from __future__ import annotations

import ssl


def client_context(ca_file: str | None, verify: bool) -> ssl.SSLContext:
    """The system's trust store, or ``ca_file`` alone when given; ``verify=False`` checks nothing.

    Raises OSError or ssl.SSLError when ``ca_file`` cannot be read; the caller names the setting.
    """
    context = ssl.create_default_context(cafile=ca_file or None)
    if not verify:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    return context
