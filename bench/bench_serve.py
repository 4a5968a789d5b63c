"""`clinic-budget serve` (issue 16): time from upload to result page, and the server's memory.

    python bench/bench_serve.py                       # 5 timed uploads each way, 100 for memory
    python bench/bench_serve.py --repeats 3 --uploads 100 --workers 2

* Upload to result page: one shipped example (inputs/orthopedic.xlsx, as `new --example`
  writes it) posted as a browser posts the form, until the whole result page has arrived; each
  upload under a new file name, so that every one is generated (none is "unchanged"). Without
  PDF (md, html, xlsx, json) and with PDF (every format this installation makes), each on its own
  server whose workers were started (and warmed) before it printed its address. Medians and
  ranges of --repeats uploads, one at a time.
* Stop: seconds from SIGTERM to the server's exit while an upload is being worked on, and from
  Ctrl-C (SIGINT) when idle (the README promises a prompt stop; the tests check only that it
  stops cleanly).
* Memory: the resident set (VmRSS) of the server process (not its workers) after the first
  upload and after --uploads uploads (two at a time, the page fetched after every tenth), with
  the workers' for reference.
"""

from __future__ import annotations

import argparse
import signal
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from generator.intake.blank import write_example  # noqa: E402
from tests.serve_helpers import Server  # noqa: E402

NO_PDF = "md,html,xlsx,json"
EXAMPLE = "orthopedic"


def rss_kib(pid: int) -> int:
    with open(f"/proc/{pid}/status", encoding="ascii") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise RuntimeError(f"no VmRSS for {pid}")


def descendants(pid: int) -> list[int]:
    """Every process under `pid` (the workers are the fork server's children)."""
    try:
        with open(f"/proc/{pid}/task/{pid}/children", encoding="ascii") as fh:
            direct = [int(p) for p in fh.read().split()]
    except OSError:
        return []
    return [p for child in direct for p in (child, *descendants(child))]


def upload_seconds(server: Server, data: bytes, name: str) -> float:
    started = time.perf_counter()
    reply = server.upload(name, data, timeout=600)
    took = time.perf_counter() - started
    if reply.status != 200:
        raise RuntimeError(f"{name}: HTTP {reply.status}: {reply.text[:500]}")
    return took


def timed(folder: Path, data: bytes, repeats: int, workers: int, formats: str | None) -> list[float]:
    extra = ["--formats", formats] if formats else []
    server = Server(folder, "--out", "out", "--workers", str(workers), *extra)
    try:
        upload_seconds(server, data, "warm-up.xlsx")  # the first PDF in a worker starts its browser
        return [upload_seconds(server, data, f"timed-{i}.xlsx") for i in range(repeats)]
    finally:
        server.stop()


def memory(folder: Path, data: bytes, uploads: int, workers: int) -> tuple[int, int, list[int]]:
    server = Server(folder, "--out", "out", "--workers", str(workers), "--formats", NO_PDF)
    try:
        pid = server.proc.pid
        upload_seconds(server, data, "clinic-0.xlsx")
        after_one = rss_kib(pid)
        counter = iter(range(1, uploads))
        lock = threading.Lock()

        def work() -> None:
            while True:
                with lock:
                    i = next(counter, None)
                if i is None:
                    return
                upload_seconds(server, data, f"clinic-{i}.xlsx")
                if i % 10 == 0:
                    assert server.get("/").status == 200

        threads = [threading.Thread(target=work) for _ in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        after_all = rss_kib(pid)
        workers_rss = [rss_kib(c) for c in descendants(pid)]
        return after_one, after_all, workers_rss
    finally:
        server.stop()


def stop_seconds(folder: Path, data: bytes, sig: int, mid_upload: bool) -> float:
    server = Server(folder, "--out", "out", "--workers", "1")
    thread = threading.Thread(target=lambda: server.upload("mid.xlsx", data, timeout=60))
    if mid_upload:
        thread.start()
        time.sleep(1.0)  # the upload is being worked on
    else:
        assert server.get("/").status == 200
    started = time.perf_counter()
    code = server.stop(sig)
    took = time.perf_counter() - started
    if mid_upload:
        thread.join(10)
    if code != 0:
        raise RuntimeError(f"the server exited {code}: {server.err[-5:]}")
    return took


def summary(values: list[float]) -> str:
    return f"median {statistics.median(values):.2f} s (min {min(values):.2f}, max {max(values):.2f}, n={len(values)})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--uploads", type=int, default=100)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--parts", default="time,stop,memory")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-serve-") as tmp:
        folder = Path(tmp)
        example = folder / f"{EXAMPLE}.xlsx"
        write_example(example, EXAMPLE)
        data = example.read_bytes()
        parts = args.parts.split(",")
        if "time" in parts:
            for label, formats in (("without PDF", NO_PDF), ("with PDF", None)):
                run = folder / label.replace(" ", "-")
                run.mkdir()
                print(f"upload to result page, {EXAMPLE}.xlsx, {label}: "
                      f"{summary(timed(run, data, args.repeats, args.workers, formats))}", flush=True)
        if "stop" in parts:
            for label, sig, mid in (("SIGTERM mid-upload", signal.SIGTERM, True),
                                    ("Ctrl-C idle", signal.SIGINT, False)):
                took = []
                for i in range(args.repeats):
                    run = folder / f"stop-{sig}-{i}"
                    run.mkdir()
                    took.append(stop_seconds(run, data, sig, mid))
                print(f"stop, {label}: {summary(took)}", flush=True)
        if "memory" in parts:
            run = folder / "memory"
            run.mkdir()
            one, many, workers = memory(run, data, args.uploads, args.workers)
            print(f"server process VmRSS after 1 upload: {one / 1024:.1f} MiB; after {args.uploads}: "
                  f"{many / 1024:.1f} MiB ({(many - one) / 1024:+.1f} MiB); "
                  f"the processes under it (tracker, fork server, workers, readers, browsers): "
                  f"{', '.join(f'{w / 1024:.0f}' for w in workers)} MiB", flush=True)


if __name__ == "__main__":
    main()
