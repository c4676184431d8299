"""The applicant's side below the outbox: the status-page link (tokens) and the blank 附件1; the page is in web/."""
