"""The no-op actor of dramatiq_bench.py (imported by `dramatiq` in each worker process)."""
import os
import sys
import threading
import time

import dramatiq
from dramatiq.brokers.redis import RedisBroker

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import common  # noqa: E402

dramatiq.set_broker(RedisBroker(url=os.environ["EZBENCH_REDIS_URL"], namespace=os.environ["EZBENCH_NAMESPACE"]))
_out = None
_lock = threading.Lock()
LANES = int(os.environ.get("EZBENCH_LANES", "0"))
JOBS = int(os.environ.get("EZBENCH_JOBS", "0"))


@dramatiq.actor(max_retries=0)
def noop(i, enqueued):
    global _out
    with _lock:
        if _out is None:
            _out = common.sample_file(os.environ["EZBENCH_DIR"])
        common.write_sample(_out, enqueued)
    if LANES and i + LANES < JOBS:
        noop.send(i + LANES, time.time())
