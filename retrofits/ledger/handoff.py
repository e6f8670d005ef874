"""Checking on one thread while the database writes on another.

The import's rows are checked in Python, which holds the interpreter; the database's work happens
in its own process. store_in_thread() hands the checked chunks to a second thread with its own
database connection, so that the database writes one chunk while Python checks the next, and
builds its indexes while Python runs the checks that wait for the last row.
"""

from __future__ import annotations

import gc
import queue
import sys
import threading
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from typing import Any, Generic, TypeVar, cast

from django.db import connection

Chunk = TypeVar("Chunk")
T = TypeVar("T")
Result = TypeVar("Result")
# Asked once every chunk has been handed over: did any row fail? It may wait for the last checks.
Failed = Callable[[], bool]

_END, _ABORT = object(), object()


class ProcessSetting(Generic[T]):
    """A process-wide setting that imports change while they run. Several imports may run at once
    in one process (a threaded server), so its users are counted: the first changes it, the last
    puts back what it found."""

    def __init__(self, get: Callable[[], T], put: Callable[[T], None], value: T) -> None:
        self.get, self.put, self.value = get, put, value
        self.lock = threading.Lock()
        self.users = 0
        self.found = get()

    @contextmanager
    def held(self) -> Iterator[None]:
        with self.lock:
            if not self.users:
                self.found = self.get()
                self.put(self.value)
            self.users += 1
        try:
            yield
        finally:
            with self.lock:
                self.users -= 1
                if not self.users:
                    self.put(self.found)


def _collect(on: bool) -> None:
    if on:
        gc.enable()
    else:
        gc.disable()


# The store thread needs the interpreter back after each round trip to the database, and by default
# waits up to 5 ms for it while the other thread checks rows: a tenth of the import.
short_switch_interval = ProcessSetting(sys.getswitchinterval, sys.setswitchinterval, 0.0005)
# An import allocates tuples by the hundred thousand (the rows read, checked and written), each
# of which counts towards the cyclic collector's next pass over everything still alive: passes
# that cost the import a tenth, and an import makes no reference cycles for them to find. It
# runs again when the import ends.
collector_paused = ProcessSetting(gc.isenabled, _collect, False)


class _Aborted(Exception):
    """The thread that checks the rows failed: the store rolls back."""


def store_in_thread(
    store: Callable[[Iterable[Chunk], Failed], Result],
    chunks: Iterable[Chunk],
    failed: Failed,
) -> Result:
    """Run `store` on a second thread, with its own database connection, while this thread checks
    the rows that make `chunks` and then runs `failed()`: the database writes one chunk while
    Python checks the next, and builds the indexes while Python finishes the checks."""
    handoff: queue.Queue[object] = queue.Queue(maxsize=4)
    result: dict[str, Any] = {}
    ended = threading.Event()  # the store has taken the last item, _END or _ABORT
    decided = threading.Event()
    verdict = [True]  # what the store hears if this thread fails: roll back

    def received() -> Iterator[Chunk]:
        while (item := handoff.get()) is not _END:
            if item is _ABORT:
                ended.set()
                raise _Aborted
            yield cast("Chunk", item)
        ended.set()

    def decision() -> bool:
        decided.wait()
        return verdict[0]

    def run() -> None:
        try:
            result["stored"] = store(received(), decision)
        except BaseException as exc:  # handed to the calling thread
            result["error"] = exc
            while not ended.is_set() and handoff.get() not in (_END, _ABORT):
                pass  # keep taking chunks: the checking thread must never wait on a full queue
        finally:
            connection.close()

    thread = threading.Thread(target=run, name="ledger-store")
    with short_switch_interval.held():
        thread.start()
        try:
            try:
                for chunk in chunks:
                    if "error" in result:
                        break
                    handoff.put(chunk)
            except BaseException:
                handoff.put(_ABORT)
                raise
            handoff.put(_END)
            if "error" not in result:
                verdict[0] = failed()
        finally:
            decided.set()
            thread.join()
    if "error" in result:
        raise result["error"]
    stored: Result = result["stored"]
    return stored
