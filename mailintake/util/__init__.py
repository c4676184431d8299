"""Small helpers with no home of their own: one-line text, the client TLS context, structured logs,
the terminal progress bar.
"""
