"""The applicant's side: the status-page link in every reply, the page's read side, the blank forms."""
