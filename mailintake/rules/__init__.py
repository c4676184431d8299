"""Mail-level rules, one small named object per module (after GNU Mailman 3's rules).

A rule's ``check(ctx)`` looks at a read-only :class:`~mailintake.rules.base.MailContext` and
returns its :class:`~mailintake.rules.base.Findings` (flags, an ignore reason); it never raises,
so one correction mail can list every defect. ``chain`` holds the order as data
(``BEFORE_PARSE``, ``AFTER_PARSE``), collects the findings and ``decide``s the mail's status.
"""
