"""The second worker where the time goes to waiting: juru with workers = 1 and 2,
interleaved, against the demo portal as `juru demo --serve` runs it, whose NIK check
answers after 0.2-1.5 s like a slow registry (bench_portal answers at once). Uses
the juru that run.sh built; prints items/min per run and the median ratio.

    bench/.venv/bin/python bench/browser/latency.py [ROWS] [ROUNDS]   (defaults: 40 2)
"""
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request

import run

HERE = os.path.dirname(os.path.abspath(__file__))
JURU = os.path.join(HERE, "..", "..", "target", "bench", "release", "juru")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def one(work, rows_csv, rows, workers):
    port = free_port()
    portal = subprocess.Popen([JURU, "demo", "--serve", "--port", str(port)],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = "http://127.0.0.1:%d" % port
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                urllib.request.urlopen(url + "/login", timeout=1)
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise RuntimeError("the demo portal did not start on " + url)
                time.sleep(0.1)
        bots = tempfile.mkdtemp(prefix="bots-", dir=work)
        shutil.copytree(os.path.join(HERE, "bot"), os.path.join(bots, "bot"))
        toml = os.path.join(bots, "bot", "bot.toml")
        with open(toml) as f:
            text = f.read().replace("workers = 1", "workers = %d" % workers)
        with open(toml, "w") as f:
            f.write(text)
        env = dict(os.environ, JURU_SECRET_PORTAL_USER="petugas", JURU_SECRET_PORTAL_PASSWORD="rahasia123")
        data = tempfile.mkdtemp(prefix="data-", dir=work)
        start = time.monotonic()
        out = subprocess.run([JURU, "--config", os.path.join(work, "config"), "--bots", bots, "--data", data,
                              "run", "bot", "--input", rows_csv, "--var", "portal_url=" + url, "--json"],
                             env=env, capture_output=True, text=True)
        wall = time.monotonic() - start
    finally:
        portal.terminate()
        portal.wait()
    summary = json.loads([l for l in out.stdout.splitlines() if l.startswith("{")][-1])
    if summary.get("done") != rows:
        raise RuntimeError("workers = %d: not every row done: %s" % (workers, summary))
    return rows / wall * 60


def main():
    rows = int(sys.argv[1]) if len(sys.argv) > 1 else 40
    rounds = int(sys.argv[2]) if len(sys.argv) > 2 else 2
    work = tempfile.mkdtemp(prefix="juru-bench-latency-")
    os.makedirs(os.path.join(work, "config"))
    rows_csv = os.path.join(work, "rows.csv")
    run.make_rows(rows, rows_csv)
    rates = {1: [], 2: []}
    for rnd in range(rounds):
        for workers in ((1, 2) if rnd % 2 == 0 else (2, 1)):
            rate = one(work, rows_csv, rows, workers)
            rates[workers].append(rate)
            print("round %d  workers = %d  %5.0f items/min" % (rnd + 1, workers, rate), flush=True)
    one_w, two_w = statistics.median(rates[1]), statistics.median(rates[2])
    print("%d rows, %d rounds: workers = 1 %.0f items/min, workers = 2 %.0f items/min: %.2fx"
          % (rows, rounds, one_w, two_w, two_w / one_w))
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
