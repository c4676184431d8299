"""The intake: one mail's way from the mailbox to its stored record and queued reply.

One module per stage, each handing the next a frozen dataclass:

``fetch``  (IMAP)        new UIDs → ``FetchedMail`` (raw bytes, or only the header when too large)
``read``   (MIME)        ``FetchedMail`` → ``ReadMail`` (ParsedMail, raw and files in storage)
``parse``  (forms)       ``ReadMail`` → ``ParsedFiles`` (one parser result per file, in children)
``decide`` (rules)       ``ParsedFiles`` → ``Decision`` (status, flags, files as the rules left them)
``record`` (database)    ``Decision`` → Message, attachments, submissions, ledger row, queued reply

``cycle`` orchestrates them: ``poll_once`` (one poll of the mailbox) and ``reprocess_message``.
"""
