"""The concurrency harness: calls run in their own threads (each with its own database
connection), released at the same moment by a barrier, so the database's locks and constraints,
not luck, decide who wins."""

import threading

from django.db import connection


def start_together(*targets, caller_waits=False, wait=10):
    """Start a thread for each target (a callable taking no argument) that waits at a shared
    barrier, then runs it and closes its own database connection. Returns the started threads
    and the barrier; with `caller_waits` the caller is one more party, released with them when
    it calls `barrier.wait()`. `wait` bounds the threads' wait at the barrier (None: no bound)."""
    barrier = threading.Barrier(len(targets) + (1 if caller_waits else 0))

    def worker(target):
        try:
            barrier.wait(timeout=wait)
            target()
        finally:
            connection.close()

    threads = [threading.Thread(target=worker, args=(target,)) for target in targets]
    for thread in threads:
        thread.start()
    return threads, barrier


def join(threads, timeout=30):
    """Wait for each thread, at most `timeout` seconds each (None: no bound)."""
    for thread in threads:
        thread.join(timeout=timeout)


def run_together(*calls, catch=Exception, wait=10, timeout=30):
    """Run each call in its own thread, released at once; return, in the order of the calls,
    ("ok", what it returned) or ("error", the exception of a `catch` type it raised). An
    exception of another type ends its thread unreported (its outcome stays None). `wait`
    bounds the wait at the barrier and `timeout` each thread's join (None: no bound)."""
    outcomes = [None] * len(calls)

    def target(index, call):
        def run():
            try:
                outcomes[index] = ("ok", call())
            except catch as exc:  # the outcome, error or not, is what the test asserts
                outcomes[index] = ("error", exc)

        return run

    threads, _barrier = start_together(*(target(i, c) for i, c in enumerate(calls)), wait=wait)
    join(threads, timeout)
    return outcomes


def returned(outcomes):
    """What the calls that succeeded returned."""
    return [value for kind, value in outcomes if kind == "ok"]


def raised(outcomes):
    """The exceptions the calls that failed raised."""
    return [value for kind, value in outcomes if kind == "error"]


def answers(outcomes):
    """What each call returned, or the message of the refusal (a DomainError) it raised."""
    return [value if kind == "ok" else value.message for kind, value in outcomes]
