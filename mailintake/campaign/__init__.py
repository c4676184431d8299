"""The campaign as data: its per-table rules from the campaign file, the roster of units, the quotas,
and submission identity (unit names matched, later forms superseding earlier ones).
"""
