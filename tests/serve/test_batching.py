"""Concurrent searches share batches; each request gets its own answer, or the failure."""
import threading
import time

import pytest

from facesearch.serve.batching import Batcher


def test_waiting_requests_run_together_and_get_their_own_answers():
    calls = []
    gate = threading.Event()

    def run(key, items, ks):
        calls.append((key, list(items), ks))
        if len(calls) == 1:
            gate.wait(5)  # the first batch is slow: the others queue up meanwhile
        return [f"{key}:{item}:{k}" for item, k in zip(items, ks)]

    batcher = Batcher(run, max_batch=16, lanes=1)
    out = {}

    def ask(key, item, k):
        out[item] = batcher.submit(key, item, k)

    first = threading.Thread(target=ask, args=("a", 0, 1))
    first.start()
    time.sleep(0.2)
    others = [threading.Thread(target=ask, args=("a" if i % 2 else "b", i, i)) for i in range(1, 7)]
    for t in others:
        t.start()
    time.sleep(0.3)
    gate.set()
    for t in [first, *others]:
        t.join(5)
    assert out == {0: "a:0:1", **{i: f"{'a' if i % 2 else 'b'}:{i}:{i}" for i in range(1, 7)}}  # each its own k
    assert len(calls) == 3  # the first alone, then one batch per key
    assert sorted(len(items) for _, items, _ in calls) == [1, 3, 3]


def test_a_failure_reaches_its_request_and_the_batcher_goes_on():
    def run(key, items, k):
        if key == "bad":
            raise RuntimeError("boom")
        return items

    batcher = Batcher(run)
    with pytest.raises(RuntimeError, match="boom"):
        batcher.submit("bad", 1, 1)
    assert batcher.submit("good", 2, 1) == 2


def test_one_failing_item_fails_only_its_own_request():
    """A batch that raises is run again item by item: the others of the batch are answered."""
    calls, gate = [], threading.Event()

    def run(key, items, k):
        calls.append(list(items))
        if len(calls) == 1:
            gate.wait(5)  # the first batch is slow: the others queue up and run as one batch
        if "bad" in items:
            raise ValueError(f"cannot use {items}")
        return [f"ok:{i}" for i in items]

    batcher = Batcher(run, max_batch=16, lanes=1)
    out = {}

    def ask(item):
        try:
            out[item] = batcher.submit("k", item, 1)
        except ValueError as e:
            out[item] = e

    threads = [threading.Thread(target=ask, args=(item,)) for item in ("first", 1, "bad", 2, 3)]
    threads[0].start()
    time.sleep(0.2)
    for t in threads[1:]:
        t.start()
    time.sleep(0.3)
    gate.set()
    for t in threads:
        t.join(5)
    assert sorted(calls[1], key=str) == [1, 2, 3, "bad"]  # batched together
    assert {k: v for k, v in out.items() if k != "bad"} == {"first": "ok:first", 1: "ok:1", 2: "ok:2", 3: "ok:3"}
    assert isinstance(out["bad"], ValueError) and str(out["bad"]) == "cannot use ['bad']"  # its own failure


def test_max_batch_is_respected():
    sizes = []
    batcher = Batcher(lambda key, items, k: sizes.append(len(items)) or items, max_batch=2)
    threads = [threading.Thread(target=batcher.submit, args=("k", i, 1)) for i in range(9)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(5)
    assert sum(sizes) == 9 and max(sizes) <= 2


def test_two_lanes_run_two_batches_at_once_and_every_request_is_answered():
    running, peak, lock = [0], [0], threading.Lock()

    def run(key, items, k):
        with lock:
            running[0] += 1
            peak[0] = max(peak[0], running[0])
        time.sleep(0.05)
        with lock:
            running[0] -= 1
        return [i * 10 for i in items]

    batcher = Batcher(run, lanes=2, linger=0.001)
    out = {}
    threads = [threading.Thread(target=lambda i=i: out.update({i: batcher.submit("k", i, 1)})) for i in range(40)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    assert out == {i: i * 10 for i in range(40)} and peak[0] == 2


def test_a_lone_client_never_waits():
    batcher = Batcher(lambda key, items, k: items, linger=1.0)
    start = time.monotonic()
    for i in range(20):
        assert batcher.submit("k", i, 1) == i
    assert time.monotonic() - start < 0.5
