"""``client.queue``: background jobs with delays and status."""

from __future__ import annotations

from collections.abc import AsyncIterable, Iterable, Mapping
from typing import Any, Literal, overload

from .._batching import (
    check_items,
    client_concurrency,
    per_call_options,
    run_prepared,
    stream_prepared,
)
from .._constants import QUEUE_MAX_LIST_LIMIT
from .._options import CallOptions, Unpack
from ..batching import (
    Concurrency,
    ProgressCallback,
    ResultStream,
    StreamProgressCallback,
)
from ..errors import InvalidRequestError
from ..models._base import decoder_for
from ..models.queue import (
    CancelResult,
    EnqueueRequest,
    EnqueueResult,
    GetJobResult,
    JobIdRequest,
    JobRecord,
    JobsPage,
    ListJobsRequest,
)
from ._base import (
    Pages,
    Resource,
    check_object,
    check_optional_int,
    check_optional_str,
    check_str,
    convert,
    encode_body,
)

__all__ = ["Queue"]

MAX_LIST_LIMIT = QUEUE_MAX_LIST_LIMIT
_ENQUEUE = decoder_for(EnqueueResult)
_JOB = decoder_for(GetJobResult)
_JOBS = decoder_for(JobsPage)
_CANCEL = decoder_for(CancelResult)


def _job(item: object) -> EnqueueRequest:
    """An ``enqueue_many`` item as a checked request."""
    if isinstance(item, tuple):
        if len(item) != 2:
            raise InvalidRequestError("a job pair must be (type, data)")
        job = EnqueueRequest(type=item[0], data=item[1])
    else:
        job = convert("job", item, EnqueueRequest)
    return EnqueueRequest(
        type=check_str("type", job.type),
        data=check_object("data", job.data),
        delay=check_optional_int("delay", job.delay, minimum=0),
    )


class Queue(Resource):
    """Enqueue jobs, look them up, list and cancel them."""

    __slots__ = ()

    async def enqueue(
        self,
        type: str,
        data: Mapping[str, Any],
        *,
        delay: int | None = None,
        **options: Unpack[CallOptions],
    ) -> EnqueueResult:
        """Add a job of ``type`` with ``data`` (a JSON object), due after ``delay`` seconds.

        The call carries an Idempotency-Key, so a retry after a lost response never enqueues
        the job twice.
        """
        body = encode_body(
            EnqueueRequest(
                type=check_str("type", type),
                data=check_object("data", data),
                delay=check_optional_int("delay", delay, minimum=0),
            )
        )
        return await self._transport.request(
            "POST", "/queue/enqueue", body, _ENQUEUE, mutating=True, options=options
        )

    @overload
    async def enqueue_many(
        self,
        jobs: Iterable[EnqueueRequest | Mapping[str, Any] | tuple[str, Mapping[str, Any]]],
        *,
        concurrency: Concurrency | None = None,
        on_progress: ProgressCallback | None = None,
        return_exceptions: Literal[False] = False,
        **options: Unpack[CallOptions],
    ) -> list[EnqueueResult]: ...
    @overload
    async def enqueue_many(
        self,
        jobs: Iterable[EnqueueRequest | Mapping[str, Any] | tuple[str, Mapping[str, Any]]],
        *,
        concurrency: Concurrency | None = None,
        on_progress: ProgressCallback | None = None,
        return_exceptions: bool,
        **options: Unpack[CallOptions],
    ) -> list[EnqueueResult | Exception]: ...
    async def enqueue_many(
        self,
        jobs: Iterable[EnqueueRequest | Mapping[str, Any] | tuple[str, Mapping[str, Any]]],
        *,
        concurrency: Concurrency | None = None,
        on_progress: ProgressCallback | None = None,
        return_exceptions: bool = False,
        **options: Unpack[CallOptions],
    ) -> list[EnqueueResult] | list[EnqueueResult | Exception]:
        """Enqueue many jobs, several at once; one result per job, in the order of ``jobs``.

        Each job is an `EnqueueRequest`, a ``{"type", "data", "delay"?}`` dict or a
        ``(type, data)`` pair. There is no batch route: this is one `enqueue()` per job, at
        most ``concurrency`` at a time (default the pool size), each with its own
        Idempotency-Key so a retried call never enqueues its job twice. ``on_progress`` and
        ``return_exceptions`` work as in `map_concurrently()`;
        see ``docs/batching.md``.
        """
        call_options = per_call_options(options)

        async def one(job: EnqueueRequest) -> EnqueueResult:
            return await self.enqueue(job.type, job.data, delay=job.delay, **call_options)

        return await run_prepared(
            one,
            check_items("jobs", jobs),
            _job,
            name="jobs",
            chunk_size=None,
            concurrency=client_concurrency(concurrency, self._transport.limits),
            return_exceptions=return_exceptions,
            on_progress=on_progress,
        )

    @overload
    def enqueue_many_stream(
        self,
        jobs: Iterable[EnqueueRequest | Mapping[str, Any] | tuple[str, Mapping[str, Any]]]
        | AsyncIterable[EnqueueRequest | Mapping[str, Any] | tuple[str, Mapping[str, Any]]],
        *,
        concurrency: Concurrency | None = None,
        on_progress: StreamProgressCallback | None = None,
        return_exceptions: Literal[False] = False,
        read_ahead: int | None = None,
        **options: Unpack[CallOptions],
    ) -> ResultStream[EnqueueResult]: ...
    @overload
    def enqueue_many_stream(
        self,
        jobs: Iterable[EnqueueRequest | Mapping[str, Any] | tuple[str, Mapping[str, Any]]]
        | AsyncIterable[EnqueueRequest | Mapping[str, Any] | tuple[str, Mapping[str, Any]]],
        *,
        concurrency: Concurrency | None = None,
        on_progress: StreamProgressCallback | None = None,
        return_exceptions: bool,
        read_ahead: int | None = None,
        **options: Unpack[CallOptions],
    ) -> ResultStream[EnqueueResult | Exception]: ...
    def enqueue_many_stream(
        self,
        jobs: Iterable[EnqueueRequest | Mapping[str, Any] | tuple[str, Mapping[str, Any]]]
        | AsyncIterable[EnqueueRequest | Mapping[str, Any] | tuple[str, Mapping[str, Any]]],
        *,
        concurrency: Concurrency | None = None,
        on_progress: StreamProgressCallback | None = None,
        return_exceptions: bool = False,
        read_ahead: int | None = None,
        **options: Unpack[CallOptions],
    ) -> ResultStream[EnqueueResult] | ResultStream[EnqueueResult | Exception]:
        """`enqueue_many()` as a stream: jobs read lazily, results yielded in job order.

        ``jobs`` may be any iterable or async iterable, of any length. Use it in
        ``async with``:

            async with client.queue.enqueue_many_stream(jobs_from_cursor()) as results:
                async for result in results:
                    print(result.job_id)

        Leaving the block early cancels the enqueues in flight (a cancelled enqueue may or may
        not have reached the server; its Idempotency-Key is not reused). ``read_ahead``
        default: twice ``concurrency`` jobs. See `ResultStream`.
        """
        call_options = per_call_options(options)

        async def one(job: EnqueueRequest) -> EnqueueResult:
            return await self.enqueue(job.type, job.data, delay=job.delay, **call_options)

        return stream_prepared(
            one,
            jobs,
            _job,
            name="jobs",
            chunk_size=None,
            concurrency=client_concurrency(concurrency, self._transport.limits),
            return_exceptions=return_exceptions,
            on_progress=on_progress,
            read_ahead=read_ahead,
        )

    async def get_job(self, job_id: str, **options: Unpack[CallOptions]) -> GetJobResult:
        """The job with this id (``exists`` False and ``job`` None if there is none)."""
        body = encode_body(JobIdRequest(job_id=check_str("job_id", job_id)))
        return await self._transport.request(
            "POST", "/queue/job", body, _JOB, mutating=False, options=options
        )

    async def cancel(self, job_id: str, **options: Unpack[CallOptions]) -> CancelResult:
        """Cancel a job; a finished one is not (``success`` False, ``note`` says why)."""
        body = encode_body(JobIdRequest(job_id=check_str("job_id", job_id)))
        return await self._transport.request(
            "POST", "/queue/cancel", body, _CANCEL, mutating=True, options=options
        )

    def list_jobs(
        self,
        *,
        status: str | None = None,
        type: str | None = None,
        limit: int | None = None,
        **options: Unpack[CallOptions],
    ) -> Pages[JobRecord]:
        """Every job (optionally of one ``status`` or ``type``), fetched ``limit`` per page."""
        request = ListJobsRequest(
            status=check_optional_str("status", status),
            type=check_optional_str("type", type),
            limit=check_optional_int("limit", limit, minimum=1, maximum=MAX_LIST_LIMIT),
        )
        transport = self._transport

        async def fetch(cursor: str | None) -> tuple[list[JobRecord], str | None]:
            request.cursor = cursor
            page = await transport.request(
                "POST", "/queue/jobs", encode_body(request), _JOBS, mutating=False, options=options
            )
            return page.jobs, None if page.list_complete else page.cursor

        return Pages(fetch)
