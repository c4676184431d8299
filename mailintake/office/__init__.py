"""The office's rooms: actions the console and the CLI share (paper copies, decisions, audit, hand-off).

Each action is one function here, called by both doors and audited once.
"""
