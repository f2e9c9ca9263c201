"""Counters, gauges and histograms shared by threads and processes.

Drop-in for the prometheus_client metrics most servers use, built for many
threads *and* many worker processes:

>>> from fastmlops.metrics import Counter, Histogram
>>> requests = Counter("doc_requests", "Requests served", ["route"], registry=None)
>>> latency = Histogram("doc_latency_seconds", "Request latency", registry=None)
>>> requests.labels(route="/predict").inc()
>>> latency.observe(0.042)
>>> latency.observe_many([0.010, 0.020, 0.300])
>>> flush()                        # normally done for you, at least every 0.1 s
>>> requests.labels("/predict").value()
1.0
>>> latency.value()["count"], round(latency.value()["sum"], 3)
(4.0, 0.372)

How it works
------------
* **Hot path without a lock.** ``inc`` and ``observe`` append the value to a
  per-series Python list (an atomic operation under the GIL, and a
  thread-safe one in free-threaded Python).  A background thread of each
  process drains the lists every :data:`FLUSH_INTERVAL` seconds (and at
  exit, before a fork and before every scrape), bins the batch with a Numba
  kernel and adds it to shared memory.  Draining takes ``n = len(buf)``
  values, then ``del buf[:n]``: values appended meanwhile stay for the next
  round, so no count is ever lost or doubled.  ``observe_many`` bins a
  numpy array directly (about 3 ns per value).
* **Shared memory of fixed size.** Each metric family is one segment:
  a header, a table of label sets (``max_series`` records) and
  ``max_processes`` *slots* of ``max_series`` rows.  A process writes only
  its own slot, claimed with an atomic compare-and-swap on first write, so
  every slot has one writer; it guards each update with a sequence lock, and
  a scrape copies each slot between two equal, even sequence numbers.
  Values in a slot only grow, and ``_count`` is the sum of the buckets, so
  every scrape is consistent (``_count`` equals the ``+Inf`` bucket) and
  never decreases.  The slot of a process that exited keeps its counts; once
  every slot is taken, a new process adopts the slot of a dead one and adds
  to what it holds (a gauge's slot is cleared instead: a gauge is a value of
  a live process).  Nothing grows with the number of processes that ever ran.
  In a metrics directory, all metric objects of one name in one process
  share that process's slot (a metric made again carries on).
* **Processes.** Without configuration a segment is anonymous shared memory,
  inherited by children forked after the metric was created (gunicorn
  ``--preload``, ``multiprocessing`` with ``fork``).  Processes started
  independently (``spawn``, separate commands) share metrics through files in
  one directory: pass ``directory=`` or set ``FASTMLOPS_METRICS_DIR`` (one
  file per metric family, whatever the number of processes; delete the files
  when the server restarts if counters should restart at zero; the processes
  must share a PID namespace, i.e. run on one host or in one container).
  Each file also holds its metric's definition, so :class:`DirectoryCollector`
  (or ``fastmlops metrics DIR``) exposes a directory without defining anything.
* **Exits.**  Nothing a process observed is lost when it ends by returning,
  ``sys.exit``, an unhandled exception (``atexit``), ``multiprocessing``'s
  ``os._exit`` (a finaliser it runs first), a fork (flushed before), or
  SIGTERM with its default action (``Pool.terminate()``, ``kill``, a
  container stop): where SIGTERM has its default action, the first metric
  installs a handler that flushes, restores the default action and sends
  SIGTERM again, so the process still ends with SIGTERM's status.  A watcher
  thread woken through Python's signal wakeup fd does the flush, so a main
  thread busy in C code does not delay it.  A SIGTERM handler of the
  application (or SIG_IGN) is left alone: a handler that exits through
  ``sys.exit`` flushes at exit.  Only SIGKILL (and power loss) loses what
  a process observed in its last :data:`FLUSH_INTERVAL`; a kill in the
  middle of an update leaves the other slots untouched.
* **Removal.** ``remove``, ``remove_by_labels`` and ``clear`` remove label
  sets for every process: the series leaves every scrape at once, its rows
  are zeroed in every slot and its record is reused by the next new label
  set.  Each label-set record carries a generation that writers check inside
  their seqlock, so a process still holding the removed child cannot write
  into a reused row.  A child removed in this process is detached (its
  values are dropped, as prometheus_client does); a process that keeps
  using a label set another process removed registers it again at its next
  flush (from zero, with what it observed since its last flush).
* **Exemplars** (``inc(1, exemplar={...})``, ``observe(x, exemplar={...})``)
  are kept in the segment, one per counter series and one per histogram
  bucket, the most recent over all processes; they appear in the
  OpenMetrics exposition, multi-process included.
* **Files.** Metric files are created with ``mkstemp`` (``O_EXCL``, never
  through a symbolic link), mode 0600, published with ``link``, and opened
  with ``O_NOFOLLOW``; a file of another user (effective uid), a link or a
  non-regular file is refused, to write and to read (``DirectoryCollector``
  skips it with a warning), and so is a directory writable by every user
  without the sticky bit.  The exporter (``DirectoryCollector``) must run as
  the same user.
* **Damaged files.** Nothing read from a file is trusted: a label-set record,
  exemplar or definition that is not what fastmlops writes (wrong types or
  count, bad UTF-8, a length beyond its record, deep nesting) is skipped with
  a warning on the ``fastmlops.metrics`` logger, in a worker's own registry as
  in ``DirectoryCollector``, and every other series and metric is still
  exposed.  A file truncated under a live mapping would raise SIGBUS (which
  kills the process) at the first access beyond its new end, so every pass
  over a file's mapping (one series' write, one metric's scrape) first checks
  its size (one ``fstat``, about half a microsecond) and its header; a file
  that fails is refused with one logged error: the metric's writes are
  dropped, scrapes leave it out, ``value()`` raises ``ValueError``, and a
  metric created again on it (or ``DirectoryCollector``, at its next scrape)
  opens the file again and is refused.  Remaining limit: a truncation in the
  microseconds between that check and the end of the pass still raises
  SIGBUS; only the file's owner and root can truncate it.  Metric files are
  sparse, so on a full file system the first write to a page never written
  raises SIGBUS too: give the metrics directory room for its files.
* **Exposition** goes through prometheus_client: every metric is a
  ``Collector`` registered in ``registry`` (default: prometheus_client's
  ``REGISTRY``; ``None``: not registered), so ``generate_latest``,
  ``start_http_server``, ``make_asgi_app`` and OpenMetrics work unchanged.
  A scrape from any process reports the sum over all processes.

Differences from prometheus_client, each with its reason:

* Values are checked: NaN and non-numbers raise; a number beyond float64's
  range counts as +-inf instead of raising ``OverflowError`` (a batch is
  binned later, where an error could not reach the caller).
* Fixed bounds: label sets per family (``max_series``, default 512; removed
  ones are reused), concurrently live processes (``max_processes``, default
  256), bytes per label set (the label values, JSON-encoded together, at most
  480) and per exemplar (its labels JSON-encoded, at most 480 bytes besides
  prometheus_client's 128 characters): shared memory has a fixed size.
* Gauges are kept per process and combined by ``multiprocess_mode`` (not
  ``mostrecent``: it needs a clock shared by every write); a process has a
  gauge series once it creates it or, for a series inherited through
  ``fork``, once it changes it.  ``set_function``'s callable runs in the
  process that set it, at its flushes, so other processes see its value up
  to :data:`FLUSH_INTERVAL` late; an error in it is logged, not raised in the
  scrape (it may run in the flusher thread).
* ``Counter.reset`` is missing (a reset of one process's share of a sum has
  no clear meaning).
* ``time()``, ``count_exceptions()`` and ``track_inprogress()`` all take
  ``.labels(...)`` inside their block (prometheus_client: ``time()`` only);
  on a labelled gauge, ``track_inprogress()``'s +1 waits for it, so a block
  that never names its labels raises on exit instead of entry.  Their
  decorators time a coroutine function over its whole run (prometheus_client
  times only the creation of the coroutine).
* A child removed by another process is registered again by a process that
  keeps writing to it (see Removal); in one process, as in prometheus_client,
  a removed child is detached.
* Exceptions have prometheus_client's types and start with its messages,
  then say what to fix (which label names and values are missing, expected
  or unknown).
"""

from __future__ import annotations

import sys as _sys

from fastmlops._core import flush as _core_flush
from fastmlops._core.flush import FLUSH_INTERVAL, flush, set_flush_interval
from fastmlops.metrics import (_base, _decode, _directory, _files, _gauge, _mapfile, _types,
                               exposition, segment)
from fastmlops.metrics._directory import DirectoryCollector
from fastmlops.metrics._gauge import Gauge
from fastmlops.metrics._types import Counter, Histogram
from fastmlops.metrics.segment import DEFAULT_BUCKETS

__all__ = ["Counter", "Gauge", "Histogram", "DirectoryCollector", "DEFAULT_BUCKETS",
           "FLUSH_INTERVAL", "flush", "set_flush_interval"]

# The public classes keep this module's name: reprs, pickles of the classes,
# and documentation tools see ``fastmlops.metrics.Counter``.
for _cls in (Counter, Gauge, Histogram, DirectoryCollector):
    _cls.__module__ = __name__
# Code in these files may hold a lock the SIGTERM flush needs (see
# fastmlops._core.flush.add_locking_file).
for _mod in (_base, _decode, _directory, _files, _gauge, _mapfile, _types, exposition,
             segment):
    _core_flush.add_locking_file(_mod.__file__ or "")
_core_flush.add_locking_file(__file__)
# FLUSH_INTERVAL follows set_flush_interval().
_core_flush.export_interval(_sys.modules[__name__])
del _cls, _mod, _core_flush, _sys
