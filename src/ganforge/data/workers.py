"""Worker processes for ``data prepare``: results in order, and a worker that dies costs one item, not the run.

``multiprocessing.Pool`` loses the task of a worker that dies (the kernel's out-of-memory killer, a
crash in a decoder's C code) and then waits for it forever. Here each worker has its own pair of
pipes, so the main process knows which items each one holds: when a worker dies, the item it was on
becomes the result ``died(task, why)``, the items queued behind it go to the others, and a new
worker takes its place.

Signals: workers ignore SIGINT (Ctrl-C reaches the whole process group; the main process decides)
and die quietly on SIGTERM, which is how the main process stops them when it is interrupted. A
worker whose main process is gone notices within a second and leaves without a traceback.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import signal
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from multiprocessing.connection import Connection, wait
from typing import Any

CHUNK = 16  # tasks sent to a worker at a time: few messages, and little lost work when one dies


@dataclass
class _Worker:
    process: Any                  # multiprocessing's Process of the chosen context
    tasks: Connection             # main -> worker: a list of (index, task), or None to stop
    results: Connection           # worker -> main: (index, result), one per task, in the order sent
    held: deque = field(default_factory=deque)  # indices sent and not answered yet


def _work(fn: Callable, init: Callable, initargs: tuple, tasks: Connection, results: Connection, parent: int) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)  # fork copied the main process's handler
    init(*initargs)
    try:
        while True:
            if not tasks.poll(1.0):
                if os.getppid() != parent:  # the main process was killed: nobody wants our results
                    return
                continue
            chunk = tasks.recv()
            if chunk is None:
                return
            for index, task in chunk:
                results.send((index, fn(task)))
    except (EOFError, OSError):  # the main process closed our pipes or is gone: leave quietly
        return


def why_died(exitcode: int | None) -> str:
    """A dead worker's exit status in words."""
    if exitcode is not None and exitcode < 0:
        name = signal.Signals(-exitcode).name
        return f"killed by {name}" + (", perhaps for lack of memory" if name == "SIGKILL" else "")
    return f"exit status {exitcode}"


def ordered_map(fn: Callable, tasks: Iterable, *, workers: int, died: Callable[[Any, str], Any],
                init: Callable = lambda: None, initargs: tuple = ()) -> Iterator:
    """``fn(task)`` for every task in ``workers`` processes, yielded in the order of ``tasks``.

    ``init(*initargs)`` runs once in each worker (and again in a replacement). ``tasks`` is read
    lazily, at most a window ahead of the results yielded, so memory stays bounded however slow one
    task is. A task whose worker dies yields ``died(task, why)`` instead.
    """
    ctx = mp.get_context("fork") if "fork" in mp.get_all_start_methods() else mp.get_context()
    source = enumerate(tasks)
    window = max(1, workers) * CHUNK * 4  # tasks read ahead of the next result to yield, at most
    requeued: deque = deque()     # (index, task) of a dead worker, sent again before new ones
    sent: dict[int, Any] = {}     # index -> task, while a worker holds it
    done: dict[int, Any] = {}     # index -> result, until its turn to be yielded
    pulled = next_out = 0         # tasks read from ``tasks``; results yielded
    exhausted = False

    def start() -> _Worker:
        task_r, task_w = ctx.Pipe(duplex=False)
        result_r, result_w = ctx.Pipe(duplex=False)
        process = ctx.Process(target=_work, args=(fn, init, initargs, task_r, result_w, os.getpid()), daemon=True)
        process.start()
        task_r.close()
        result_w.close()  # the worker holds the only write end: its death reads as end of file
        return _Worker(process, task_w, result_r)

    def replace(n: int) -> None:
        old = pool[n]
        old.process.join()
        old.tasks.close()
        old.results.close()
        pool[n] = start()

    def take() -> list:
        nonlocal exhausted, pulled
        chunk: list = []
        while requeued and len(chunk) < CHUNK:
            chunk.append(requeued.popleft())
        while not exhausted and len(chunk) < CHUNK and pulled < next_out + window:
            try:
                chunk.append(next(source))
                pulled += 1
            except StopIteration:
                exhausted = True
        return chunk

    pool = [start() for _ in range(max(1, workers))]
    try:
        while True:
            for n, w in enumerate(pool):
                if w.held or not (chunk := take()):
                    continue
                try:
                    w.tasks.send(chunk)
                except OSError:  # it died between chunks: nothing it held is lost
                    requeued.extendleft(reversed(chunk))
                    replace(n)
                    continue
                for index, task in chunk:
                    w.held.append(index)
                    sent[index] = task
            while next_out in done:
                yield done.pop(next_out)
                next_out += 1
            if exhausted and not requeued and not sent and not done:
                break
            wait([w.results for w in pool] + [w.process.sentinel for w in pool])
            for n, w in enumerate(pool):
                try:
                    while w.held and w.results.poll():
                        index, result = w.results.recv()
                        w.held.popleft()
                        done[index] = result
                        del sent[index]
                except EOFError:
                    pass  # it died; its answers up to here are kept
                if not w.process.is_alive():
                    if w.held:  # tasks run in the order sent: the first unanswered one was running
                        culprit = w.held.popleft()
                        done[culprit] = died(sent.pop(culprit), why_died(w.process.exitcode))
                        requeued.extendleft((i, sent.pop(i)) for i in reversed(w.held))
                    replace(n)
        for w in pool:
            w.tasks.send(None)
        for w in pool:
            w.process.join(5)
    finally:  # finished, or interrupted (Ctrl-C, SIGTERM, an error in the caller): no worker outlives this
        for w in pool:
            if w.process.is_alive():
                w.process.terminate()
        for w in pool:
            w.process.join()
            w.tasks.close()
            w.results.close()
