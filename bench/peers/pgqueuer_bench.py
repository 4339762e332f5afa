"""pgqueuer (PostgreSQL) beside `ezbench distributed`: N no-op jobs, W worker processes.

  drain: enqueue all N (batches of 1,000), then start the workers; jobs/s from the first
         start to the last (a backlog: the claim latency is mostly the wait in the queue).
  lanes: K = W x C jobs in flight; each job enqueues its successor as it starts (what a
         coordinator does when a task completes), so every job finds a free worker: the
         claim latency is the queue's own (the shape of ezflow's max_parallel = W x slots).

Everything lives in a schema of its own (PGQUEUER_SCHEMA), dropped at the end.
usage: pgqueuer_bench.py --dsn postgresql://... [--jobs 20000] [--workers 4] [--concurrency 16] [--mode drain|lanes]
"""
import argparse
import asyncio
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from datetime import timedelta

import asyncpg

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import common  # noqa: E402


async def worker(dsn, directory, concurrency, jobs, lanes):
    from pgqueuer import AsyncpgDriver, Queries, QueueManager
    conn = await asyncpg.connect(dsn)
    qm = QueueManager(Queries(AsyncpgDriver(conn)))
    out = common.sample_file(directory)
    # Successors are enqueued on a second connection (the manager's is busy listening).
    queries = Queries(AsyncpgDriver(await asyncpg.connect(dsn))) if lanes else None

    @qm.entrypoint("noop")
    async def noop(job):
        i, enqueued = job.payload.decode().split()
        common.write_sample(out, float(enqueued))
        nxt = int(i) + lanes if lanes else jobs
        if nxt < jobs:
            await queries.enqueue("noop", f"{nxt} {time.time():.6f}".encode())

    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGTERM, qm.shutdown.set)
    await qm.run(batch_size=concurrency, dequeue_timeout=timedelta(seconds=1))


async def setup(dsn, schema):
    from pgqueuer import AsyncpgDriver, Queries
    conn = await asyncpg.connect(dsn)
    await conn.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
    await Queries(AsyncpgDriver(conn)).install()
    await conn.close()


async def enqueue(dsn, first, count):
    from pgqueuer import AsyncpgDriver, Queries
    conn = await asyncpg.connect(dsn)
    q = Queries(AsyncpgDriver(conn))
    for base in range(first, first + count, 1000):
        n = min(1000, first + count - base)
        now = time.time()
        await q.enqueue(["noop"] * n, [f"{base + k} {now:.6f}".encode() for k in range(n)], [0] * n)
    await conn.close()


async def drop(dsn, schema):
    conn = await asyncpg.connect(dsn)
    await conn.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
    await conn.close()


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--dsn", required=True)
    p.add_argument("--jobs", type=int, default=20000)
    p.add_argument("--workers", type=int, default=4)
    p.add_argument("--concurrency", type=int, default=16)
    p.add_argument("--mode", choices=["drain", "lanes"], default="drain")
    p.add_argument("--worker-dir")  # internal: run one worker writing samples there
    p.add_argument("--lanes", type=int, default=0)
    a = p.parse_args()
    if a.worker_dir:
        asyncio.run(worker(a.dsn, a.worker_dir, a.concurrency, a.jobs, a.lanes))
        return
    schema = f"ezbench_pgq_{os.getpid()}"
    os.environ["PGQUEUER_SCHEMA"] = schema
    directory = tempfile.mkdtemp(prefix="ezbench-pgq-")
    lanes = a.workers * a.concurrency if a.mode == "lanes" else 0
    procs = []
    try:
        asyncio.run(setup(a.dsn, schema))
        if a.mode == "drain":
            asyncio.run(enqueue(a.dsn, 0, a.jobs))
        for _ in range(a.workers):
            procs.append(subprocess.Popen([sys.executable, __file__, "--dsn", a.dsn, "--jobs", str(a.jobs), "--concurrency",
                                           str(a.concurrency), "--worker-dir", directory, "--lanes", str(lanes)]))
        if a.mode == "lanes":
            time.sleep(3)  # the workers listening
            asyncio.run(enqueue(a.dsn, 0, lanes))
        common.wait_for(directory, a.jobs, 600)
        common.report("pgqueuer", a.mode, directory, a.jobs, a.workers, a.concurrency)
    finally:
        for pr in procs:
            pr.send_signal(signal.SIGTERM)
        for pr in procs:
            try:
                pr.wait(10)
            except subprocess.TimeoutExpired:
                pr.kill()
        asyncio.run(drop(a.dsn, schema))
        shutil.rmtree(directory, ignore_errors=True)


if __name__ == "__main__":
    main()
