"""Mail-level rules, one small named object per module (after GNU Mailman 3's rules).

Every rule runs; each appends readable reasons instead of raising, so one correction mail can
list every defect. ``chain.decide`` turns the collected facts into the mail's status.
"""
