"""Wire types of ``/queue/*``."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import msgspec

from ._base import Model

__all__ = [
    "CancelResult",
    "EnqueueRequest",
    "EnqueueResult",
    "GetJobResult",
    "JobIdRequest",
    "JobRecord",
    "JobsPage",
    "ListJobsRequest",
]


class EnqueueRequest(Model, kw_only=True):
    """``/queue/enqueue``: a job of ``type`` with ``data``, due after ``delay`` seconds."""

    type: str
    data: dict[str, Any]
    delay: int | None = None


class EnqueueResult(Model, kw_only=True):
    """The new job's id."""

    job_id: str = msgspec.field(name="jobId")
    success: bool = True


class JobIdRequest(Model, kw_only=True):
    """``/queue/job`` and ``/queue/cancel``: one job id."""

    job_id: str = msgspec.field(name="jobId")


class JobRecord(Model, kw_only=True):
    """A job: ``status`` is queued, processing, completed, failed or cancelled (open string)."""

    id: str
    type: str
    data: Any = None
    status: str
    project_id: str | None = msgspec.field(default=None, name="projectId")
    created_at: datetime | None = msgspec.field(default=None, name="createdAt")


class GetJobResult(Model, kw_only=True):
    """The job, if it exists."""

    job: JobRecord | None = None
    exists: bool


class ListJobsRequest(Model, kw_only=True):
    """``/queue/jobs``: one page of jobs, optionally filtered."""

    status: str | None = None
    type: str | None = None
    limit: int | None = None
    cursor: str | None = None


class JobsPage(Model, kw_only=True):
    """One page of jobs; ``cursor`` fetches the next unless ``list_complete``."""

    jobs: list[JobRecord]
    list_complete: bool
    cursor: str | None = None


class CancelResult(Model, kw_only=True):
    """Whether the job was cancelled; a terminal job is not, and ``note`` says why."""

    success: bool
    note: str | None = None
