"""Race tests: run calls in threads released at the same instant, each with its own DB connection."""
import threading

from django.db import connections

WAIT = 30


def at_once(*calls):
    """Start every call in a thread of its own, release them together, wait; their results in order.

    An exception in a call is returned as its result, so the test can assert on it."""
    barrier = threading.Barrier(len(calls))
    results = [None] * len(calls)

    def run(index, call):
        try:
            barrier.wait(WAIT)
            results[index] = call()
        except Exception as error:  # noqa: BLE001  (handed to the test)
            results[index] = error
        finally:
            connections.close_all()  # this thread's own connection

    threads = [threading.Thread(target=run, args=(i, call)) for i, call in enumerate(calls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(WAIT)
    return results
