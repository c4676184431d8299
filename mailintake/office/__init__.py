"""The office's rooms: actions the console and the CLI share, each one function, audited once.

- ``paper``: the paper-copy register (``record_received``, ``undo_received``)
- ``decisions``: 同意受理 / 撤回 on a submission (``decide``, ``latest_decisions``)
- ``reminders``: 催报 (``preview_reminders``, ``send_reminders``), from ``unit_state``; mail via ``notices``
- ``handoff`` / ``ballot``: candidate lists, 公示名单, 民主测评票, originals (``write_handoff``)
- ``final_report`` / ``calendar``: the 截止报告 once after the deadline; the worker's calendar jobs
- ``audit``: the append-only trail (``record_action``, ``list_actions``)
"""
