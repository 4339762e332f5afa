"""Shared by the peer benchmarks: sample files and the report.

Every worker process appends one fixed-width line per job it starts:
``<enqueue time> <start time>`` (seconds since the epoch, the same machine's clock).
The driver counts jobs by file size and reads the lines at the end, so the figures are
computed the same way for every peer: jobs/s from the first start to the last, and the
claim latency (enqueue -> start) quantiles.
"""
import glob
import os
import time

LINE = 36  # "%17.6f %17.6f\n"


def sample_file(directory):
    return open(os.path.join(directory, f"samples-{os.getpid()}.txt"), "a", buffering=1)


def write_sample(f, enqueued):
    f.write("%17.6f %17.6f\n" % (enqueued, time.time()))


def count(directory):
    return sum(os.path.getsize(p) for p in glob.glob(os.path.join(directory, "samples-*.txt"))) // LINE


def wait_for(directory, n, timeout):
    end = time.time() + timeout
    while count(directory) < n:
        if time.time() > end:
            raise SystemExit(f"timed out: {count(directory)} of {n} jobs ran")
        time.sleep(0.02)


def report(peer, mode, directory, n, workers, concurrency):
    enq, start = [], []
    for p in glob.glob(os.path.join(directory, "samples-*.txt")):
        for line in open(p):
            a, b = line.split()
            enq.append(float(a))
            start.append(float(b))
    lat = sorted((s - e) * 1000 for e, s in zip(enq, start))
    span = max(start) - min(start)

    def q(x):
        return lat[min(len(lat) - 1, max(0, int(x * len(lat) + 0.999999) - 1))]

    print(f"{peer:10} {mode:6} jobs {len(lat):6}  workers {workers}x{concurrency}  "
          f"{span:7.3f} s  {len(lat) / span:8.0f} jobs/s  "
          f"claim p50/p99/max {q(0.5):.1f}/{q(0.99):.1f}/{lat[-1]:.1f} ms", flush=True)
