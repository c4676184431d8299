"""mailintake: the service behind a call-for-applications mailbox."""

__version__ = "0.1.0"
