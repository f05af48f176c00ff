"""A fleet benchmark: items/min of one run of the demo bot worked by 1, 2 and 3 juru
agents that share one PostgreSQL store, side by side in one sitting (interleaved
rounds), against the demo portal as `juru demo --serve` runs it (its NIK check
answers after 0.2-1.5 s, like a slow registry). Each agent has its own folders and
name and up to `WORKERS_PER_AGENT` browsers; the bot's `[run] workers` is that times
the number of agents, so each agent works its share.

    python3 bench/fleet/run.py [ROWS] [ROUNDS]      (defaults: 60 2)

Needs the release juru of bench/browser/run.sh (target/bench/release/juru; builds it
when missing) and the PostgreSQL server binaries (initdb, postgres: Debian's
postgresql). Prints a table and the median ratios to one agent. Not part of cargo test.

Also measures the machine: how busy its cores were during each run (from /proc/stat)
and the CPU time one item cost everything together (agents, browsers, chromedriver,
portal, PostgreSQL). `cores x 60 / CPU-seconds per item` is the most items per minute
this machine can give, however many agents share it: the ceiling the ratios are read
against. Run it on an otherwise quiet machine.
"""
import glob
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

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.abspath(os.path.join(HERE, "..", ".."))
TARGET = os.environ.get("CARGO_TARGET_DIR", os.path.join(REPO, "target", "bench"))
JURU = os.path.join(TARGET, "release", "juru")
WORKERS_PER_AGENT = 1


def cpu_times():
    """(busy, total) clock ticks of all cores since boot."""
    with open("/proc/stat") as f:
        fields = [int(x) for x in f.readline().split()[1:]]
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)
    total = sum(fields[:8])
    return total - idle, total


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait(what, secs, check):
    deadline = time.monotonic() + secs
    while True:
        v = check()
        if v:
            return v
        if time.monotonic() > deadline:
            sys.exit("timed out waiting for " + what)
        time.sleep(0.1)


def postgres(work):
    """A throwaway cluster in `work`, as the user postgres when run as root."""
    bins = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    initdb = bins[-1] if bins else shutil.which("initdb")
    if not initdb:
        sys.exit("the PostgreSQL server binaries are missing: apt-get install postgresql")
    bindir = os.path.dirname(initdb)
    data = os.path.join(work, "pg")
    os.makedirs(data)
    as_user = []
    if os.geteuid() == 0:
        shutil.chown(work, "postgres")
        shutil.chown(data, "postgres")
        as_user = ["runuser", "-u", "postgres", "--"]
    subprocess.run(as_user + [initdb, "-U", "juru", "--auth=trust", "--no-sync", "-D", data],
                   check=True, stdout=subprocess.DEVNULL)
    port = free_port()
    proc = subprocess.Popen(as_user + [os.path.join(bindir, "postgres"), "-D", data, "-p", str(port),
                                       "-h", "127.0.0.1", "-k", work, "-c", "fsync=off"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    psql = os.path.join(bindir, "psql")
    wait("postgres", 60, lambda: subprocess.run(
        [psql, "-h", "127.0.0.1", "-p", str(port), "-U", "juru", "-d", "postgres", "-c", "select 1"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL).returncode == 0)
    return proc, port, psql


def workbook(path, rows, first):
    """The demo bot's workbook with `rows` rows (its own rows over again, with NIKs
    from number `first` on, new to the portal, whose duplicate check is on)."""
    code = r"""
import sys, openpyxl
src, dst, rows, first = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
wb = openpyxl.load_workbook(src)
ws = wb.active
base = [list(r) for r in ws.iter_rows(min_row=2, values_only=True) if r[1] and len(str(r[1])) == 16]
out = openpyxl.Workbook(); o = out.active; o.title = ws.title
o.append([c.value for c in ws[1]])
for i in range(rows):
    r = list(base[i % len(base)]); r[0] = i + 1; r[1] = "3326011203%06d" % (first + i)
    o.append(r)
out.save(dst)
"""
    subprocess.run([sys.executable, "-c", code,
                    os.path.join(REPO, "bots/demo-perizinan/input/permohonan.xlsx"), path, str(rows), str(first)],
                   check=True)


def one_run(work, pg_port, psql, portal_url, agents, rows, tag, first):
    db = "bench_%s" % tag
    subprocess.run([psql, "-h", "127.0.0.1", "-p", str(pg_port), "-U", "juru", "-d", "postgres",
                    "-c", "CREATE DATABASE " + db], check=True, stdout=subprocess.DEVNULL)
    url = "postgres://juru@127.0.0.1:%d/%s" % (pg_port, db)
    procs, dirs = [], []
    try:
        for n in range(agents):
            d = os.path.join(work, "%s-agent-%d" % (tag, n))
            shutil.copytree(os.path.join(REPO, "bots/demo-perizinan"), os.path.join(d, "bots/demo-perizinan"))
            manifest = os.path.join(d, "bots/demo-perizinan/bot.toml")
            text = open(manifest).read().replace("http://127.0.0.1:8765", portal_url)
            text = text.replace("[run]\n", "[run]\nworkers = %d\n" % (agents * WORKERS_PER_AGENT))
            open(manifest, "w").write(text)
            workbook(os.path.join(d, "bots/demo-perizinan/input/permohonan.xlsx"), rows, first)
            os.makedirs(os.path.join(d, "config"))
            open(os.path.join(d, "config/agent.toml"), "w").write(
                "[browser]\nheadless = true\n[agent]\nname = \"bench-%d\"\n[store]\nurl = \"%s\"\n"
                "[limits]\nmax_browsers = %d\n" % (n, url, WORKERS_PER_AGENT))
            env = dict(os.environ, JURU_SECRET_PORTAL_USER="petugas",
                       JURU_SECRET_PORTAL_PASSWORD="rahasia123", RUST_LOG="warn")
            log = open(os.path.join(d, "agent.log"), "w")
            procs.append(subprocess.Popen([JURU, "agent"], cwd=d, env=env, stdout=log, stderr=log))
            dirs.append(d)

        def agents_alive():
            out = subprocess.run([JURU, "agents", "--json"], cwd=dirs[0], capture_output=True, text=True)
            try:
                return sum(1 for a in json.loads(out.stdout) if a.get("alive")) == agents
            except ValueError:
                return False

        wait("the agents", 60, agents_alive)
        busy0, total0 = cpu_times()
        t0 = time.monotonic()
        subprocess.run([JURU, "trigger", "demo-perizinan"], cwd=dirs[0], check=True,
                       stdout=subprocess.DEVNULL)

        def ended():
            out = subprocess.run([psql, "-h", "127.0.0.1", "-p", str(pg_port), "-U", "juru", "-d", db, "-At",
                                  "-c", "SELECT id, state, (SELECT count(*) FROM items i WHERE i.run_id = r.id"
                                  " AND i.state = 'done') FROM runs r WHERE state <> 'running'"],
                                 capture_output=True, text=True)
            line = out.stdout.strip().splitlines()
            if not line:
                return None
            rid, state, done = line[0].split("|")
            return {"id": rid, "state": state, "done": int(done)}
        run = wait("the run", 1800, ended)
        seconds = time.monotonic() - t0
        busy1, total1 = cpu_times()
        tick = os.sysconf("SC_CLK_TCK")
        run["busy"] = (busy1 - busy0) / max(total1 - total0, 1)
        run["cpu_per_item"] = (busy1 - busy0) / tick / rows
        return rows / seconds * 60, run
    finally:
        for p in procs:
            p.terminate()
        for p in procs:
            try:
                p.wait(timeout=60)
            except subprocess.TimeoutExpired:
                p.kill()


def main():
    rows = int(sys.argv[1]) if len(sys.argv) > 1 else 60
    rounds = int(sys.argv[2]) if len(sys.argv) > 2 else 2
    if not os.path.exists(JURU):
        subprocess.run(["cargo", "build", "--release", "--quiet", "--bin", "juru",
                        "--manifest-path", os.path.join(REPO, "Cargo.toml")],
                       env=dict(os.environ, CARGO_TARGET_DIR=TARGET), check=True)
    work = tempfile.mkdtemp(prefix="juru-fleet-bench-")
    portal_port = free_port()
    portal = subprocess.Popen([JURU, "demo", "--serve", "--port", str(portal_port)],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    pg = None
    try:
        portal_url = "http://127.0.0.1:%d" % portal_port

        def portal_up():
            try:
                urllib.request.urlopen(portal_url + "/login", timeout=1)
                return True
            except OSError:
                return False
        wait("the demo portal", 30, portal_up)
        pg, pg_port, psql = postgres(work)
        results = {1: [], 2: [], 3: []}
        machine = {1: [], 2: [], 3: []}
        first = 1
        for r in range(rounds):
            for agents in (1, 2, 3):
                rate, run = one_run(work, pg_port, psql, portal_url, agents, rows,
                                    "r%d_a%d" % (r, agents), first)
                first += rows
                print("round %d, %d agent(s): %.1f items/min, cores %.0f%% busy, %.2f CPU-s per item"
                      " (run %s: %s, %d done)" % (
                          r + 1, agents, rate, run["busy"] * 100, run["cpu_per_item"], run["id"],
                          run["state"], run["done"]), flush=True)
                results[agents].append(rate)
                machine[agents].append((run["busy"], run["cpu_per_item"]))
        base = statistics.median(results[1])
        cores = os.cpu_count() or 1
        print("\n| agents | items/min (median) | vs 1 agent | cores busy | CPU-s per item |"
              " ceiling of this machine (items/min) |\n|---|---|---|---|---|---|")
        for agents in (1, 2, 3):
            m = statistics.median(results[agents])
            busy = statistics.median(b for b, _ in machine[agents])
            cpu = statistics.median(c for _, c in machine[agents])
            print("| %d | %.1f | %.2fx | %.0f%% | %.2f | %.0f |" % (
                agents, m, m / base, busy * 100, cpu, cores * 60 / cpu))
    finally:
        portal.terminate()
        if pg:
            pg.terminate()
            pg.wait()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
