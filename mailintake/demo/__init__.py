"""The one-command demo: its local servers (pymap IMAP, aiosmtpd sink) and its generated sample
forms and mails (also used by the tests and the benchmarks).
"""
