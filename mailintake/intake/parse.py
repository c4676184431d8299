"""Intake stage 3, parse (forms): each read mail's files → parser results, in sandboxed children.

Identical files in a batch are parsed once and their result shared, each file getting its own
name back in the record and in every message. Archiver and Word junk, and an Outlook item whose own
files are the candidates, are recorded, never parsed.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from mailintake.campaign.files import campaign_path
from mailintake.config.settings import Settings
from mailintake.intake.model import ParsedFiles, ReadMail, StoredFile
from mailintake.intake.sandbox import ParseJob, run_job
from parsers.records import FileResult, Flag, Form

#: runs parse jobs, results in job order (``ParserPool.parse_many``; ``run_job`` in-process in tests)
ParseMany = Callable[[list[ParseJob]], list[FileResult]]


def make_job(name: str, data: bytes, settings: Settings) -> ParseJob:
    limits = settings.limits
    return ParseJob(
        name=name,
        data=data,
        max_chars=settings.campaign.max_chars,
        max_file_bytes=limits.max_attachment_bytes,
        max_uncompressed_bytes=limits.max_uncompressed_bytes,
        max_compression_ratio=limits.max_compression_ratio,
        max_members=limits.max_archive_members,
        forms=str(campaign_path(settings, "forms")),
    )


def parse_in_process(jobs: list[ParseJob]) -> list[FileResult]:
    """Parse in this process, without a sandbox (tests, and mails already known to be harmless)."""
    return [run_job(job) for job in jobs]


def parse_batch(reads: Sequence[ReadMail], settings: Settings, parse_many: ParseMany) -> list[ParsedFiles]:
    """Parse every distinct file of the batch once; hand each mail its results."""
    jobs: list[ParseJob] = []
    job_by_sha: dict[str, int] = {}
    for read in reads:
        for stored in read.files:
            if not _unparsed(stored) and stored.sha256 not in job_by_sha:
                job_by_sha[stored.sha256] = len(jobs)
                jobs.append(make_job(stored.attachment.path, stored.attachment.data, settings))
    results = parse_many(jobs)
    return [ParsedFiles(read, tuple(_file_result(stored, results, job_by_sha) for stored in read.files))
            for read in reads]


def _unparsed(stored: StoredFile) -> bool:
    """Archiver or Word junk, an Outlook item kept beside its files, or an archive that could not be
    opened (kept with the reason): recorded, never parsed."""
    attachment = stored.attachment
    return attachment.junk or attachment.container or bool(attachment.flags)


def _file_result(stored: StoredFile, results: list[FileResult], job_by_sha: dict[str, int]) -> FileResult:
    attachment = stored.attachment
    if _unparsed(stored):  # junk and a readable item: nothing to say; a failed archive or item: the reason
        return FileResult(file=attachment.path, format=attachment.format or "unknown", flags=list(attachment.flags))
    return _rename(results[job_by_sha[stored.sha256]], attachment.path)


def _renamed_flag(flag: Flag, old: str, new: str) -> Flag:
    """The flag with the other file's quoted name — full path first, then bare name — made this one's."""
    message = flag.message.replace(f"“{old}”", f"“{new}”") if "/" in old else flag.message
    message = message.replace(f"“{old.rsplit('/', 1)[-1]}”", f"“{new.rsplit('/', 1)[-1]}”")
    return Flag(flag.code, message, flag.field)


def _rename(result: FileResult, name: str) -> FileResult:
    """Results are shared between identical files: give each its own display name back — in the
    record and in every message, whether it quotes the full path (``a.zip/x.docx``) or the bare name."""
    if result.file == name:
        return result
    forms = [Form(f.table, f.title, f.fields, f.word_count, [_renamed_flag(x, result.file, name) for x in f.flags])
             for f in result.forms]
    return FileResult(file=name, format=result.format, forms=forms,
                      flags=[_renamed_flag(f, result.file, name) for f in result.flags], page_text=result.page_text)
