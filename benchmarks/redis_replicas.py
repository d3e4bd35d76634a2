"""Replicas through Redis: no acknowledged feedback lost or counted twice.

Starts a real ``redis-server`` (AOF, ``appendfsync always``), then P worker processes
that each make N decisions through one shared ``RedisPendingStore`` + ``RedisSync``.
25% of the feedback is handed to the next worker, 2% is sent twice (a handed-off one by
both workers at once), one worker SIGKILLs itself mid-run, and Redis is restarted while
the workers run. At the end a fresh replica syncs and its counts must equal the
feedbacks that ``Router.feedback`` acknowledged (returned True).

    python benchmarks/redis_replicas.py --processes 4 --n 10000
    python benchmarks/redis_replicas.py --no-aof   # what a restart loses without AOF
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import redis

import uniscale as us
from uniscale.errors import StoreUnavailableError
from uniscale.store.redis import RedisPendingStore, RedisSync, connect

NAMESPACE = "soak"
DIM = 16


def _router(client: Any, seed: int) -> us.Router:
    arms = us.ArmSpace.product(["small", "large"], [us.Single(), us.SelfConsistency()], [1, 3])
    prices = {"small": us.Price(0.15, 0.6), "large": us.Price(2.5, 10.0)}
    store = RedisPendingStore(client, ttl=3600, namespace=NAMESPACE)
    return us.Router(arms, prices, featurizer=us.HashingFeaturizer(dim=DIM),
                     pending_store=store, seed=seed)


def _retry(call: Any, counts: dict[str, int]) -> Any:
    while True:
        try:
            return call()
        except (StoreUnavailableError, redis.exceptions.RedisError):  # the harness's own calls too
            counts["unavailable"] += 1
            time.sleep(0.05)


def worker(index: int, url: str, n: int, processes: int, kill_at: int, out: Path) -> None:
    """One replica: decide, feed back (or hand off), sync every 100 steps."""
    client = connect(url)
    router = _router(client, index)
    counts = {"acked": 0, "duplicate": 0, "unknown": 0, "unavailable": 0, "handed": 0}
    sync = _retry(lambda: RedisSync(router, client, namespace=NAMESPACE,
                                    replica=f"w{index}"), counts)
    rng = np.random.default_rng(index)
    mine, nxt = f"{NAMESPACE}-test:handoff:{index}", f"{NAMESPACE}-test:handoff:" \
        f"{(index + 1) % processes}"

    def give(decision_id: str, score: float) -> None:
        try:
            ok = _retry(lambda: router.feedback(decision_id, score), counts)
        except us.DuplicateFeedbackError:
            counts["duplicate"] += 1
        except us.UnknownDecisionError:
            counts["unknown"] += 1
        else:
            counts["acked"] += int(ok)

    def finish() -> None:
        tmp = out.with_suffix(".tmp")
        tmp.write_text(json.dumps(counts))
        os.replace(tmp, out)

    for step in range(n):
        x = rng.standard_normal(DIM)
        decision = _retry(lambda x=x: router.decide(features=x / np.linalg.norm(x)), counts)
        score = float(rng.random())
        twice = rng.random() < 0.02
        if rng.random() < 0.25:
            counts["handed"] += 1
            item = json.dumps([decision.id, score])
            _retry(lambda item=item: client.rpush(nxt, item), counts)
            if twice:
                give(decision.id, score)  # races the worker it was handed to
        else:
            give(decision.id, score)
            if twice:
                give(decision.id, score)
        while (raw := _retry(lambda: client.lpop(mine), counts)) is not None:
            give(*json.loads(raw))
        if step % 100 == 99:
            _retry(sync.sync, counts)
            _retry(lambda step=step: client.hset(f"{NAMESPACE}-test:progress", str(index),
                                                 step + 1), counts)
        if step == kill_at:
            finish()
            os.kill(os.getpid(), signal.SIGKILL)  # dies between two syncs
    _retry(sync.sync, counts)
    finish()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _start_redis(port: int, folder: Path, aof: bool) -> subprocess.Popen[bytes]:
    persist = ["--appendonly", "yes", "--appendfsync", "always"] if aof else \
        ["--appendonly", "no"]
    proc = subprocess.Popen(["redis-server", "--port", str(port), "--bind", "127.0.0.1",
                             "--save", "", "--dir", str(folder), *persist],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    client = connect(f"redis://127.0.0.1:{port}/0")
    for _ in range(200):
        try:
            client.ping()
            return proc
        except Exception:
            time.sleep(0.05)
    raise RuntimeError("redis-server did not start")


def run(processes: int, n: int, *, aof: bool = True, restart_at: float = 0.4,
        kill_fraction: float = 0.5) -> dict[str, Any]:
    """Run the soak; returns the figures (``lost`` and ``doubled`` must be 0 with AOF)."""
    if shutil.which("redis-server") is None:
        raise RuntimeError("redis-server is not installed")
    folder = Path(tempfile.mkdtemp(prefix="uniscale-redis-"))
    port = _free_port()
    url = f"redis://127.0.0.1:{port}/0"
    server = _start_redis(port, folder, aof)
    start = time.perf_counter()
    try:
        outs = [folder / f"worker{i}.json" for i in range(processes)]
        victim = 1 % processes
        workers = [subprocess.Popen(
            [sys.executable, __file__, "--worker", str(i), "--url", url, "--n", str(n),
             "--processes", str(processes),
             "--kill-at", str(int(n * kill_fraction) if i == victim else -1),
             "--out", str(outs[i])]) for i in range(processes)]
        client = connect(url)
        restarted = False
        while any(w.poll() is None for w in workers):
            if not restarted:
                try:
                    progress = client.hgetall(f"{NAMESPACE}-test:progress")
                except Exception:
                    progress = {}
                if sum(int(v) for v in progress.values()) >= restart_at * n * processes:
                    server.send_signal(signal.SIGTERM)
                    server.wait(timeout=30)
                    server = _start_redis(port, folder, aof)
                    restarted = True
            time.sleep(0.05)
        codes = [w.returncode for w in workers]
        figures = [json.loads(o.read_text()) for o in outs]
        checker = _router(connect(url), 99)
        RedisSync(checker, connect(url), namespace=NAMESPACE, replica="checker").sync()
        acked = sum(f["acked"] for f in figures)
        counted = round(float(checker.policy.counts.sum()))
        return {
            "processes": processes, "decisions_per_process": n, "aof": aof,
            "restarted_redis": restarted, "killed_worker": victim,
            "worker_exit_codes": codes, "acknowledged": acked, "counted": counted,
            "updates": checker.policy.updates,
            "lost": max(acked - counted, 0), "doubled": max(counted - acked, 0),
            "duplicates_refused": sum(f["duplicate"] for f in figures),
            "unknown_ids": sum(f["unknown"] for f in figures),
            "unavailable_retries": sum(f["unavailable"] for f in figures),
            "handed_off": sum(f["handed"] for f in figures),
            "seconds": round(time.perf_counter() - start, 1),
        }
    finally:
        server.terminate()
        server.wait(timeout=30)
        shutil.rmtree(folder, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--processes", type=int, default=4)
    parser.add_argument("--n", type=int, default=10_000)
    parser.add_argument("--no-aof", action="store_true")
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--worker", type=int, default=None, help=argparse.SUPPRESS)
    parser.add_argument("--url", help=argparse.SUPPRESS)
    parser.add_argument("--kill-at", type=int, default=-1, help=argparse.SUPPRESS)
    parser.add_argument("--out", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker is not None:
        worker(args.worker, args.url, args.n, args.processes, args.kill_at, Path(args.out))
        return
    figures = run(args.processes, args.n, aof=not args.no_aof)
    if args.json:
        print(json.dumps(figures))
        return
    for key, value in figures.items():
        print(f"{key:>24}  {value}")


if __name__ == "__main__":
    main()
