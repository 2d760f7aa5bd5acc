"""Concurrent searches share passes through the models.

A search request thread queues its photo and waits for one of ``lanes`` pipelines. Whoever
finds a lane free takes the queued photos with it (up to ``max_batch``), runs them through
detection, embedding and search as one batch, and hands each waiting request its answer.
A lone client pays no wait: its photo runs at once, alone. With several clients the models
see batches, which cost less per photo than one by one. Two lanes, because much of
detection is single-threaded Python between the nets: a second batch fills the other core
meanwhile (on 2 cores, in one process, two lanes identified 1.2-1.3x the photos/s of one).
So that a batch does not leave behind clients whose next request is a moment away (they
were just answered), the leader waits up to ``linger`` seconds until the queue holds as
many requests as were lately in flight at once, less those other lanes are running.
"""
from __future__ import annotations

import threading
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any, Callable, Hashable


@dataclass
class Job:
    key: Hashable  # requests with one key run together (same options)
    item: Any
    k: int
    done: threading.Event = field(default_factory=threading.Event)
    result: Any = None
    error: BaseException | None = None


class Batcher:
    """``run(key, items, ks)`` answers a batch in order (``ks``: each item's own ``k``);
    :meth:`submit` answers one item (or raises what running that item alone raised)."""

    def __init__(self, run: Callable[[Hashable, list, list[int]], list], max_batch: int = 16, linger: float = 0.01,
                 lanes: int = 2):
        self._run, self.max_batch, self.linger, self.lanes = run, max_batch, linger, lanes
        self._queue: list[Job] = []
        self._arrived = threading.Condition()  # guards _queue
        self._lanes = threading.Semaphore(lanes)  # batches running at once
        self._active = 0  # requests submitted and not yet answered
        self._running = 0  # requests in the batches running now
        self._recent: deque[int] = deque([1], maxlen=32)  # _active as the last requests arrived
        self.batches = 0  # batches run (for the benchmark and tests)

    def submit(self, key: Hashable, item: Any, k: int) -> Any:
        job = Job(key, item, k)
        with self._arrived:
            self._queue.append(job)
            self._active += 1
            self._recent.append(self._active)
            self._arrived.notify_all()
        try:
            while not job.done.is_set():
                with self._lanes:
                    if job.done.is_set():
                        break
                    batch = self._take()
                    if batch:
                        self._execute(batch)
                if not batch:  # the queue was empty: another lane runs ours
                    job.done.wait()
        finally:
            with self._arrived:
                self._active -= 1
        if job.error is not None:
            raise job.error
        return job.result

    def lane(self):
        """A lane for other work on the same models (a compare)."""
        return self._lanes

    def _take(self) -> list[Job]:
        """The next batch: what is queued, after waiting briefly for as many as came lately."""
        deadline = time.monotonic() + self.linger
        with self._arrived:
            want = min(max(self._recent) - self._running, self.max_batch)
            while len(self._queue) < want and (left := deadline - time.monotonic()) > 0:
                self._arrived.wait(left)
            batch, self._queue = self._queue[:self.max_batch], self._queue[self.max_batch:]
            self._running += len(batch)
        return batch

    def _execute(self, batch: list[Job]) -> None:
        groups: dict[Hashable, list[Job]] = {}
        for job in batch:
            groups.setdefault(job.key, []).append(job)
        for key, jobs in groups.items():
            try:
                self._answer(key, jobs)
            finally:
                self.batches += 1
                with self._arrived:
                    self._running -= len(jobs)
                for job in jobs:
                    job.done.set()

    def _answer(self, key: Hashable, jobs: list[Job]) -> None:
        """Each job's result, or its own failure: a batch that fails is run again one job at
        a time, so one bad photo fails only its own request."""
        try:
            results = self._run(key, [j.item for j in jobs], [j.k for j in jobs])
            if len(results) != len(jobs):
                raise RuntimeError(f"a batch of {len(jobs)} got {len(results)} answers")
        except Exception as e:
            if len(jobs) == 1:
                jobs[0].error = e
            else:
                for job in jobs:
                    self._answer(key, [job])
            return
        except BaseException as e:  # an interrupt: every waiting request gets it, none hangs
            for job in jobs:
                job.error = e
            return
        for job, result in zip(jobs, results):
            job.result = result
