"""Ordered parallel work: blocks of bytes answered by forked worker processes, answers in order.

Written over os.fork and pipes rather than a stdlib pool: the pools import about 20 ms of
modules and start threads before they fork (which Python 3.12+ warns may deadlock); a batch
needs only framed bytes in and out of processes that already hold everything imported.
"""

from __future__ import annotations

import contextlib
import os
import select
import signal
import struct
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

_TASK = struct.Struct("<QB")  # a task: its length, then whether it is the input's last piece
_ANSWER = struct.Struct("<Q")  # an answer: its length
_READ = 1 << 20

Work = Callable[[bytes, bool], bytes]


class WorkerError(RuntimeError):
    """A worker process died before answering all its tasks."""


@dataclass
class _Worker:
    """The parent's side of one worker: its pipes, what is still to send, what came back."""

    pid: int
    tasks: int  # write end, non-blocking
    answers: int  # read end
    outbox: deque[memoryview] = field(default_factory=deque)
    inbox: bytearray = field(default_factory=bytearray)
    done: deque[bytes] = field(default_factory=deque)
    pending: int = 0  # tasks given whose answer has not come back
    closing: bool = False  # no more tasks: close the pipe once the outbox is sent
    ended: bool = False  # its answers reached their end: no more will come

    def send(self) -> None:
        """Write what the pipe takes now; at the end, close it (the worker then ends)."""
        while self.outbox:
            try:
                written = os.write(self.tasks, self.outbox[0])
            except BlockingIOError:
                return
            except BrokenPipeError:  # it ended: what it answered is still read, then its end
                self.outbox.clear()
                self.closing = True
                break
            if written == len(self.outbox[0]):
                self.outbox.popleft()
            else:
                self.outbox[0] = self.outbox[0][written:]
        if self.closing and self.tasks >= 0:
            os.close(self.tasks)
            self.tasks = -1

    def receive(self) -> None:
        """Read what the pipe holds; complete answers go to `done`."""
        data = os.read(self.answers, _READ)
        if not data:
            self.ended = True  # the batch fails once its first unanswered task is next
            return
        self.inbox += data
        while len(self.inbox) >= _ANSWER.size:
            (length,) = _ANSWER.unpack_from(self.inbox)
            end = _ANSWER.size + length
            if len(self.inbox) < end:
                return
            self.done.append(bytes(self.inbox[_ANSWER.size : end]))
            del self.inbox[:end]
            self.pending -= 1


def ordered(
    tasks: Iterator[tuple[bytes, bool]], source: int, work: Work, jobs: int
) -> Iterator[bytes]:
    """`work(*task)` for every task, in the tasks' order, computed by `jobs` forked processes
    with at most two tasks per worker in flight (memory stays flat).

    `tasks` reads file descriptor `source`; the next one is taken only once `source` is
    readable, so answers already computed come out while the input pauses.
    """
    workers = _start(jobs, work)
    order: deque[_Worker] = deque()  # the worker of each task given, in the tasks' order
    more = True
    try:
        while more or order:
            if order and order[0].done:
                yield order.popleft().done.popleft()
            elif order and order[0].ended:  # every answer before its task is out: fail here
                worker = order[0]
                raise WorkerError(
                    f"batch worker {worker.pid} ended with {worker.pending} tasks unanswered"
                )
            elif more and len(order) < 2 * jobs and (not order or readable(source)):
                task = next(tasks, None)
                if task is None:
                    more = False
                    _close_tasks(workers)
                else:
                    _give(_least_busy(workers), task, order)
            else:
                _wait(workers, source if more and len(order) < 2 * jobs else None)
    except BaseException:
        _stop(workers)
        raise
    if failed := _stop(workers):
        raise WorkerError(f"batch workers {failed} failed")


def readable(fd: int) -> bool:
    """Whether `fd` can be read at once (a file always can; a pipe may have to wait)."""
    return bool(select.select([fd], [], [], 0)[0])


def _least_busy(workers: list[_Worker]) -> _Worker:
    """The worker to give the next task: of those still taking tasks, the one with fewest."""
    taking = [w for w in workers if w.tasks >= 0]
    if not taking:
        raise WorkerError("every batch worker ended")
    return min(taking, key=lambda w: w.pending)


def _give(worker: _Worker, task: tuple[bytes, bool], order: deque[_Worker]) -> None:
    data, last = task
    worker.outbox.extend([memoryview(_TASK.pack(len(data), last)), memoryview(data)])
    worker.pending += 1
    order.append(worker)
    worker.send()


def _wait(workers: list[_Worker], source: int | None) -> None:
    """Block until input, an answer or room for a task; then read and send what can be."""
    reading = [w.answers for w in workers if w.pending and not w.ended]
    writing = [w.tasks for w in workers if w.outbox]
    readable, writable, _ = select.select(
        reading + ([] if source is None else [source]), writing, []
    )
    for worker in workers:
        if worker.tasks in writable:
            worker.send()
        if worker.answers in readable:
            worker.receive()


def _start(jobs: int, work: Work) -> list[_Worker]:
    workers: list[_Worker] = []
    try:
        for _ in range(jobs):
            task_read, task_write = os.pipe()
            answer_read, answer_write = os.pipe()
            pid = os.fork()
            if pid == 0:  # the worker never returns into the parent's code, nor flushes its files
                status = 1
                try:
                    for other in workers:  # so that each worker sees its own input end
                        os.close(other.tasks)
                        os.close(other.answers)
                    os.close(task_write)
                    os.close(answer_read)
                    _serve(task_read, answer_write, work)
                    status = 0
                except BaseException:
                    import traceback  # a worker's failure is rare: only then this import

                    traceback.print_exc()
                finally:
                    os._exit(status)
            os.close(task_read)
            os.close(answer_write)
            os.set_blocking(task_write, False)
            workers.append(_Worker(pid, task_write, answer_read))
    except BaseException:
        _stop(workers)
        raise
    return workers


def _serve(tasks: int, answers: int, work: Work) -> None:
    """A worker's loop: answer each task until the parent closes its end."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)  # Ctrl-C ends workers without a traceback
    while header := _read_exactly(tasks, _TASK.size):
        length, last = _TASK.unpack(header)
        answer = work(_read_exactly(tasks, length), bool(last))
        _write_all(answers, _ANSWER.pack(len(answer)) + answer)


def _read_exactly(fd: int, size: int) -> bytes:
    """`size` bytes, or b"" at the end of the input (a frame cut short is an error)."""
    parts, missing = [], size
    while missing:
        part = os.read(fd, min(missing, _READ))
        if not part:
            if missing == size:
                return b""
            raise WorkerError("a task was cut short")
        parts.append(part)
        missing -= len(part)
    return b"".join(parts)


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def _close_tasks(workers: list[_Worker]) -> None:
    """No more tasks: each worker ends once its outbox is sent and its tasks are answered."""
    for worker in workers:
        worker.closing = True
        worker.send()


def _stop(workers: list[_Worker]) -> list[int]:
    """Close every pipe and reap every worker; one still busy (an error cut the batch short)
    is killed. Returns the workers that failed on their own."""
    failed = []
    for worker in workers:
        busy = bool(worker.pending or worker.outbox)
        for fd in (worker.tasks, worker.answers):
            if fd >= 0:
                os.close(fd)
        worker.tasks = worker.answers = -1
        if busy:
            with contextlib.suppress(ProcessLookupError):
                os.kill(worker.pid, signal.SIGKILL)
        _, status = os.waitpid(worker.pid, 0)
        if status and not busy:
            failed.append(worker.pid)
    return failed
