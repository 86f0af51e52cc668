"""Dynamic micro-batching: concurrent requests for one model share its model calls.

Each served model has one `MicroBatcher`: a bounded queue of jobs and one worker thread.
The batcher takes the first waiting job, then waits up to `max_wait_s` (or until
`max_batch` jobs are there) for more, and hands the batch to `work` in the worker
thread, so the event loop never blocks on features, the model or the decoder. While a
batch runs, new jobs wait in the queue and form the next batch: under load batches grow
by themselves, and when idle a lone request waits at most `max_wait_s`.

    batcher = MicroBatcher("digits-en", work, max_batch=16, max_wait_s=0.005, max_queue=256)
    await batcher.start()
    [future] = batcher.submit([payload])      # Busy (503) when the queue has no room
    outcome = await future                    # what work() returned for this payload
    await batcher.stop()                      # finishes what is queued, then stops the thread

`work(jobs) -> outcomes` runs in the worker thread with the jobs of one batch and returns one
outcome per job; it must not raise (a raised exception is every job's result). A job
whose future was cancelled (its request timed out or went away) is dropped before its batch runs.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, TypeVar

from recog.serve.errors import Busy

T = TypeVar("T")


@dataclass
class Job:
    """One input waiting for its model: what `work` needs, the future its request awaits,
    and when it was queued (`time.perf_counter`)."""

    payload: Any
    future: asyncio.Future
    enqueued: float = field(default_factory=time.perf_counter)


class MicroBatcher:
    """See the module docstring.

    Args:
        name: the model's name (thread name, messages).
        work: jobs of one batch -> one outcome each; runs in the worker thread.
        max_batch: most jobs in one batch.
        max_wait_s: longest wait for more jobs once one is there.
        max_queue: most jobs waiting (a submit that would pass it is refused whole: `Busy`).
        on_batch: called with each batch's size (metrics).
    """

    def __init__(self, name: str, work: Callable[[list[Job]], list[Any]], max_batch: int = 16,
                 max_wait_s: float = 0.005, max_queue: int = 256, on_batch: Callable[[int], None] | None = None):
        if max_batch < 1 or max_queue < 1 or max_wait_s < 0:
            raise ValueError("max_batch and max_queue must be at least 1 and max_wait_s at least 0")
        self.name = name
        self.work = work
        self.max_batch = max_batch
        self.max_wait_s = max_wait_s
        self.max_queue = max_queue
        self.on_batch = on_batch
        self.executor: ThreadPoolExecutor | None = None
        self._queue: asyncio.Queue[Job] | None = None
        self._task: asyncio.Task | None = None
        self._closing = False
        self.batch_seconds = 0.0  # an average of recent batch times, for Retry-After

    async def start(self) -> None:
        """Start the worker (in the running event loop)."""
        self._queue = asyncio.Queue(self.max_queue)
        self.executor = ThreadPoolExecutor(1, thread_name_prefix=f"recog-serve-{self.name}")
        self._closing = False
        self._task = asyncio.create_task(self._run(), name=f"recog-batcher-{self.name}")

    @property
    def depth(self) -> int:
        """Jobs waiting now (the running batch not included)."""
        return self._queue.qsize() if self._queue is not None else 0

    def submit(self, payloads: list[Any]) -> list[asyncio.Future]:
        """Queue every payload, or none: `Busy` when they do not all fit or the batcher is stopping."""
        if self._queue is None or self._closing:
            raise Busy(f"model {self.name} is not accepting requests (starting or shutting down)", retry_after=5)
        free = self.max_queue - self._queue.qsize()
        if len(payloads) > free:
            retry = 1 + int(self.batch_seconds * (self._queue.qsize() / self.max_batch + 1))
            raise Busy(f"model {self.name} is busy: {self._queue.qsize()} inputs are waiting "
                       f"(queue limit {self.max_queue}, --max-queue) and this request brings {len(payloads)}; "
                       "retry later", retry_after=retry)
        loop = asyncio.get_running_loop()
        futures = []
        for payload in payloads:
            future = loop.create_future()
            self._queue.put_nowait(Job(payload, future))
            futures.append(future)
        return futures

    async def run_in_worker(self, fn: Callable[..., T], *args: Any) -> T:
        """Run `fn(*args)` in the worker thread, between batches (warm-up, decoder builds)."""
        if self.executor is None:
            raise RuntimeError(f"batcher {self.name} is not started")
        return await asyncio.get_running_loop().run_in_executor(self.executor, fn, *args)

    async def _next_batch(self) -> list[Job]:
        assert self._queue is not None
        loop = asyncio.get_running_loop()
        batch = [await self._queue.get()]
        deadline = loop.time() + self.max_wait_s
        while len(batch) < self.max_batch:
            try:
                batch.append(self._queue.get_nowait())
                continue
            except asyncio.QueueEmpty:
                pass
            remaining = deadline - loop.time()
            if remaining <= 0:
                break
            try:
                batch.append(await asyncio.wait_for(self._queue.get(), remaining))
            except TimeoutError:
                break
        return batch

    async def _run(self) -> None:
        assert self._queue is not None
        while True:
            batch = await self._next_batch()
            live = [job for job in batch if not job.future.done()]
            try:
                if live:
                    if self.on_batch is not None:
                        self.on_batch(len(live))
                    start = time.perf_counter()
                    try:
                        outcomes: list[Any] = await self.run_in_worker(self.work, live)
                    except Exception as err:  # work() must not raise; if it does, every job gets the error
                        outcomes = [err] * len(live)
                    self.batch_seconds = 0.8 * self.batch_seconds + 0.2 * (time.perf_counter() - start)
                    for job, outcome in zip(live, outcomes, strict=True):
                        if job.future.done():
                            continue
                        if isinstance(outcome, BaseException):
                            job.future.set_exception(outcome)
                        else:
                            job.future.set_result(outcome)
            finally:
                for _ in batch:
                    self._queue.task_done()

    async def stop(self, drain_timeout_s: float = 30.0) -> None:
        """Refuse new jobs, finish the queued ones (up to `drain_timeout_s`), stop the worker."""
        self._closing = True
        if self._queue is not None and self._task is not None:
            waiting: Awaitable[None] = self._queue.join()
            try:
                await asyncio.wait_for(waiting, drain_timeout_s)
            except TimeoutError:
                pass
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        if self.executor is not None:
            await asyncio.get_running_loop().run_in_executor(None, self.executor.shutdown, True)
            self.executor = None
