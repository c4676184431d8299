"""Parse jobs whose legacy file the warm pool converts in the worker, before a parser child reads it.

The parser children stay off the network: the worker asks LibreOffice (on 127.0.0.1) for the .docx and
hands the child both the original bytes and the conversion's outcome.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from typing import TYPE_CHECKING

from mailintake.convert.pool import OfficePool, OfficeUnavailable
from parsers.convert import ConversionError
from parsers.parse import conversion_source

if TYPE_CHECKING:
    from mailintake.sandbox import ParseJob

log = logging.getLogger(__name__)


def needs_conversion(job: ParseJob) -> str | None:
    """The LibreOffice source format of the job's file, or None (read directly, or refused unread)."""
    from mailintake.sandbox import job_limits

    return conversion_source(job.data, job.name, job_limits(job))


def converted(office: OfficePool, job: ParseJob, source: str) -> ParseJob:
    """The job with its .docx from the pool (or the failure noted); unchanged when the pool is unavailable,
    so the child converts one-shot as before."""
    try:
        return replace(job, docx=office.convert(job.data, source, "docx"))
    except ConversionError as exc:
        log.info("converting %s failed: %s", job.name, exc)
        return replace(job, conversion_failed=True)
    except OfficeUnavailable:
        return job
