"""dramatiq (Redis) beside `ezbench distributed`: N no-op messages, W worker processes of
C threads each (`dramatiq --processes W --threads C`). Modes as in pgqueuer_bench.py:

  drain: enqueue all N (pipelined), then start the workers; jobs/s from the first start to
         the last (the claim latency is mostly the wait in the queue).
  lanes: K = W x C messages in flight, each sends its successor as it starts.

Keys live under a namespace of their own, deleted at the end.
usage: dramatiq_bench.py --redis redis://HOST:PORT [--jobs 20000] [--workers 4] [--concurrency 16] [--mode drain|lanes]
"""
import argparse
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time

import redis

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import common  # noqa: E402


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--redis", required=True)
    p.add_argument("--jobs", type=int, default=20000)
    p.add_argument("--workers", type=int, default=4)
    p.add_argument("--concurrency", type=int, default=16)
    p.add_argument("--mode", choices=["drain", "lanes"], default="drain")
    a = p.parse_args()
    ns = f"ezbench_dramatiq_{os.getpid()}"
    directory = tempfile.mkdtemp(prefix="ezbench-dramatiq-")
    lanes = a.workers * a.concurrency if a.mode == "lanes" else 0
    os.environ.update(EZBENCH_REDIS_URL=a.redis, EZBENCH_NAMESPACE=ns, EZBENCH_DIR=directory, EZBENCH_LANES=str(lanes),
                      EZBENCH_JOBS=str(a.jobs))
    here = os.path.dirname(os.path.abspath(__file__))
    sys.path.insert(0, here)
    import dramatiq_tasks  # noqa: E402  (the broker, from the environment above)

    def send(first, count):
        broker = dramatiq_tasks.dramatiq.get_broker()
        now = time.time()
        for i in range(first, first + count):
            dramatiq_tasks.noop.send(i, now)
        return broker

    worker = None
    try:
        if a.mode == "drain":
            send(0, a.jobs)
        worker = subprocess.Popen([sys.executable, "-m", "dramatiq", "dramatiq_tasks", "--processes", str(a.workers), "--threads",
                                   str(a.concurrency), "--path", here], stderr=subprocess.DEVNULL)
        if a.mode == "lanes":
            time.sleep(3)  # the workers consuming
            send(0, lanes)
        common.wait_for(directory, a.jobs, 600)
        common.report("dramatiq", a.mode, directory, a.jobs, a.workers, a.concurrency)
    finally:
        if worker:
            worker.send_signal(signal.SIGTERM)
            try:
                worker.wait(30)
            except subprocess.TimeoutExpired:
                worker.kill()
        r = redis.Redis.from_url(a.redis)
        for k in r.scan_iter(match=ns + ":*", count=1000):
            r.unlink(k)
        shutil.rmtree(directory, ignore_errors=True)


if __name__ == "__main__":
    main()
