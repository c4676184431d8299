"""The service behind ``mailintake run``: scheduled intake cycles, deliveries and calendar jobs,
and the thread that keeps an IMAP IDLE open.
"""
