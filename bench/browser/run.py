"""Runs the browser benchmark (see bench/README.md): juru with 1 and 2 workers,
Python Selenium, Robot Framework + SeleniumLibrary and the bare fantoccini floor,
interleaved, each against a fresh demo portal; then the idle agent. Writes the
results section of bench/README.md. Started by run.sh."""
import argparse
import datetime
import json
import os
import platform
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
TICK = os.sysconf("SC_CLK_TCK")
PAGE = os.sysconf("SC_PAGE_SIZE")

PROVINSI = [11, 12, 13, 31, 32, 33, 34, 35, 36, 51, 61, 63, 64, 71, 73, 81, 91, 94]
JENIS = ["Izin Usaha Mikro Kecil", "Surat Izin Usaha Perdagangan", "Tanda Daftar Gudang"]
SKALA = ["Mikro", "Kecil", "Menengah"]
NAMA = ["Budi Santoso", "Siti Aminah", "Agus Salim", "Dewi Lestari", "Made Wirawan",
        "Rina Marlina", "Yohanes Tefa", "Nur Hidayah", "Andi Pratama", "Maria Ulfa"]
JALAN = ["Merdeka", "Sudirman", "Diponegoro", "Gajah Mada", "Pahlawan", "Veteran"]


def make_rows(n, path):
    """n valid rows with distinct NIK + jenis, as CSV (no commas inside values)."""
    today = datetime.date.today()
    rows = []
    for i in range(n):
        nik = "%02d%02d%02d%06d%04d" % (PROVINSI[i % len(PROVINSI)], 1 + i % 20, 1 + i % 30,
                                       10185 + i, 1 + i)
        tanggal = today - datetime.timedelta(days=1 + i % 300)
        rows.append({
            "NIK": nik,
            "Nama Pemohon": NAMA[i % len(NAMA)] + " " + str(i + 1),
            "Jenis Izin": JENIS[i % len(JENIS)],
            "Skala Usaha": SKALA[(i // 3) % len(SKALA)],
            "Tanggal Pengajuan": tanggal.strftime("%d/%m/%Y"),
            "Alamat": "Jl. %s No. %d RT 0%d RW 0%d" % (JALAN[i % len(JALAN)], i + 1, 1 + i % 9, 1 + i % 7),
            "Telepon": "0812%08d" % (31000000 + i * 7),
        })
    with open(path, "w", encoding="utf-8") as f:
        f.write(",".join(rows[0].keys()) + "\n")
        for r in rows:
            f.write(",".join(r.values()) + "\n")
    return rows


def expected_state(rows):
    return sorted(
        (r["NIK"], r["Nama Pemohon"], r["Jenis Izin"], r["Skala Usaha"],
         datetime.datetime.strptime(r["Tanggal Pengajuan"], "%d/%m/%Y").strftime("%Y-%m-%d"),
         r["Alamat"], r["Telepon"])
        for r in rows)


def portal_state(records):
    return sorted((r["nik"], r["nama"], r["jenis_izin"], r["skala"], r["tanggal"], r["alamat"],
                   r["telepon"]) for r in records)


def cpu_of(pid):
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK  # utime + stime, this process only


def machine_cpu():
    """CPU seconds the whole machine has spent busy (all cores, every process: the
    client, chromedriver, Chromium, the portal), from /proc/stat."""
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:]]
    return (sum(v) - v[3] - v[4]) / TICK  # everything but idle and iowait


def hwm_of(pid):
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def measure(cmd, env, stdout_path, cwd=None):
    """Runs cmd; returns (exit code, wall s, client CPU s, client peak RSS bytes). CPU
    and peak memory are the client process's own (not chromedriver's or Chromium's):
    read from /proc while it runs and, for CPU, once more after it exited (before it
    is reaped)."""
    with open(stdout_path, "w") as out:
        start = time.monotonic()
        p = subprocess.Popen(cmd, env=env, stdout=out, stderr=subprocess.STDOUT, cwd=cwd)
        peak, cpu = 0, 0.0
        while True:
            done = os.waitid(os.P_PID, p.pid, os.WEXITED | os.WNOHANG | os.WNOWAIT)
            try:
                cpu = cpu_of(p.pid)
            except OSError:
                pass
            if done is not None:
                break
            peak = max(peak, hwm_of(p.pid))
            time.sleep(0.02)
        wall = time.monotonic() - start
        code = p.wait()
    return code, wall, cpu, peak


class Portal:
    def __init__(self, binary):
        self.p = subprocess.Popen([binary], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        self.url = self.p.stdout.readline().strip()

    def records(self):
        out, _ = self.p.communicate("stop\n", timeout=30)
        return json.loads(out.strip().splitlines()[-1])


def last_json(path):
    with open(path) as f:
        for line in reversed(f.read().splitlines()):
            line = line.strip()
            if line.startswith("{"):
                return json.loads(line)
    raise RuntimeError("no JSON summary in %s" % path)


def run_one(tool, a, work, rows_csv):
    portal = Portal(a.portal)
    env = dict(os.environ)
    out_csv = os.path.join(work, "out-%s.csv" % tool)
    log = os.path.join(work, "log-%s.txt" % tool)
    stats = os.path.join(work, "stats-%s.json" % tool)
    try:
        if tool.startswith("juru"):
            workers = tool[-1]
            bots = os.path.join(work, "bots-%s" % workers)
            if not os.path.isdir(bots):
                shutil.copytree(os.path.join(HERE, "bot"), os.path.join(bots, "bot"))
                toml = os.path.join(bots, "bot", "bot.toml")
                with open(toml) as f:
                    text = f.read().replace("workers = 1", "workers = %s" % workers)
                with open(toml, "w") as f:
                    f.write(text)
            data = tempfile.mkdtemp(prefix="data-", dir=work)
            env["JURU_SECRET_PORTAL_USER"] = "petugas"
            env["JURU_SECRET_PORTAL_PASSWORD"] = "rahasia123"
            cmd = [a.juru, "--config", os.path.join(work, "config"), "--bots", bots, "--data", data,
                   "run", "bot", "--input", rows_csv, "--var", "portal_url=" + portal.url, "--json"]
        elif tool == "selenium":
            cmd = [a.python, os.path.join(HERE, "selenium_side.py"), portal.url, rows_csv, out_csv]
        elif tool == "robot":
            cmd = [a.python, "-m", "robot", "--outputdir", os.path.join(work, "robot"),
                   "--log", "NONE", "--report", "NONE", "--pythonpath", HERE,
                   "--variable", "PORTAL:" + portal.url, "--variable", "ROWS:" + rows_csv,
                   "--variable", "OUTPUT:" + out_csv, "--variable", "STATS:" + stats,
                   os.path.join(HERE, "robot_side.robot")]
        else:
            cmd = [a.floor, portal.url, rows_csv, out_csv]
        busy0 = machine_cpu()
        code, wall, cpu, peak = measure(cmd, env, log)
        machine = machine_cpu() - busy0
    finally:
        records = portal.records()
    if code != 0:
        raise RuntimeError("%s exited %d, see %s" % (tool, code, log))
    summary = json.load(open(stats)) if tool == "robot" else last_json(log)
    if tool.startswith("juru") and summary.get("done") != summary.get("rows"):
        raise RuntimeError("%s: not every row done: %s" % (tool, summary))
    if not tool.startswith("juru"):
        with open(out_csv) as f:
            numbers = sorted(line.split(",")[1].strip() for line in f.read().splitlines()[1:])
        if numbers != sorted(r["no_reg"] for r in records):
            raise RuntimeError("%s: its output does not match the portal's numbers" % tool)
    return {"wall": wall, "cpu": cpu, "peak": peak, "machine": machine,
            "commands": summary["webdriver_commands"],
            "state": portal_state(records)}


def agent_activity(pid):
    """(wake-ups, CPU ns) of all the process's threads: context switches (each
    wake-up of a thread is one) and run time from /proc/PID/task/*/schedstat."""
    wakes, ns = 0, 0
    for task in os.listdir("/proc/%d/task" % pid):
        try:
            with open("/proc/%d/task/%s/status" % (pid, task)) as f:
                for line in f:
                    if line.split(":")[0].endswith("ctxt_switches"):
                        wakes += int(line.split(":")[1])
            with open("/proc/%d/task/%s/schedstat" % (pid, task)) as f:
                ns += int(f.read().split()[0])
        except OSError:
            pass  # a thread that ended meanwhile
    return wakes, ns


def agent_idle(a, work, schedules=50, idle=30):
    """juru agent with `schedules` schedules that do not fire: RSS once it settled,
    and its wake-ups and CPU time over `idle` seconds."""
    root = tempfile.mkdtemp(prefix="agent-", dir=work)
    cfg, bots, data = (os.path.join(root, d) for d in ("config", "bots", "data"))
    os.makedirs(cfg)
    shutil.copytree(os.path.join(HERE, "bot"), os.path.join(bots, "bot"))
    with open(os.path.join(cfg, "schedules.toml"), "w") as f:
        for i in range(schedules):
            # Fires once a year, never during the measurement.
            f.write('[jadwal-%02d]\nbot = "bot"\ncron = "%d %d %d %d *"\ntime_zone = "Asia/Jakarta"\n\n'
                    % (i + 1, i % 60, i % 24, 1 + i % 28, 1 + i % 12))
    p = subprocess.Popen([a.juru, "--config", cfg, "--bots", bots, "--data", data, "agent"],
                         stdout=subprocess.DEVNULL, stderr=open(os.path.join(root, "agent.log"), "w"))
    try:
        # Settled: the start-up work is done (schedules, bots and store loaded) and
        # its helper threads have ended (tokio ends an idle blocking thread 10 s
        # after its last task), and no thread has woken for 2 s; at most 40 s.
        started = time.monotonic()
        deadline, last, since = started + 40, None, started
        while time.monotonic() < deadline and p.poll() is None:
            now = agent_activity(p.pid)[0]
            if now != last:
                last, since = now, time.monotonic()
            if time.monotonic() - since >= 2 and time.monotonic() - started >= 12:
                break
            time.sleep(0.1)
        if p.poll() is not None:
            raise RuntimeError("juru agent exited %d, see %s/agent.log" % (p.returncode, root))
        wakes0, ns0 = agent_activity(p.pid)
        cpu0 = cpu_of(p.pid)
        time.sleep(idle)
        wakes1, ns1 = agent_activity(p.pid)
        cpu1 = cpu_of(p.pid)
        with open("/proc/%d/status" % p.pid) as f:
            status = dict(l.split(":", 1) for l in f if ":" in l)
        rss = int(status["VmRSS"].split()[0]) * 1024
        hwm = int(status["VmHWM"].split()[0]) * 1024
    finally:
        p.send_signal(signal.SIGTERM)
        p.wait(timeout=30)
    return {"rss": rss, "hwm": hwm, "cpu": max(cpu1 - cpu0, (ns1 - ns0) / 1e9),
            "wakes": max(0, wakes1 - wakes0), "idle": idle, "schedules": schedules}


TOOLS = ["juru-1", "selenium", "juru-2", "robot", "floor"]
NAMES = {"juru-1": "juru, workers = 1", "juru-2": "juru, workers = 2", "selenium": "Python Selenium",
         "robot": "Robot Framework + SeleniumLibrary", "floor": "floor: bare fantoccini loop"}


def mib(b):
    return "%.1f MiB" % (b / 1048576)


def spread(xs):
    return "%.0f–%.0f" % (min(xs), max(xs))


def write_readme(a, results, agent, rows, when):
    med = {t: {k: statistics.median(r.get(k, float("nan")) for r in results[t])
               for k in ("wall", "cpu", "peak", "commands", "machine")}
           for t in results}
    ipm = {t: [rows / r["wall"] * 60 for r in results[t]] for t in results}
    mipm = {t: statistics.median(ipm[t]) for t in results}
    rustc = subprocess.run(["rustc", "--version"], capture_output=True, text=True).stdout.strip()
    py = subprocess.run([a.python, "-c", "import selenium, robot, SeleniumLibrary, sys; print('Python %s, selenium %s, robotframework %s, SeleniumLibrary %s' % (sys.version.split()[0], selenium.__version__, robot.__version__ if hasattr(robot, '__version__') else robot.version.VERSION, SeleniumLibrary.__version__))"],
                        capture_output=True, text=True).stdout.strip()
    cd = subprocess.run(["/usr/bin/chromedriver", "--version"], capture_output=True, text=True).stdout.split(" (")[0]
    cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "?")
    mem = next(int(l.split()[1]) for l in open("/proc/meminfo") if l.startswith("MemTotal"))
    lines = ["%s, on %s, %d cores, %.0f GiB memory; Linux %s; %s; %s; %s, Chromium headless."
             % (when, cpu, os.cpu_count(), mem / 1048576, platform.release(), rustc, py, cd), "",
             "%d rows per run, %d rounds interleaved (median, with the range over the rounds)." % (rows, min(len(v) for v in results.values())), "",
             "| tool | items/min | WebDriver commands per item | client CPU s per run | client peak RSS | machine CPU ms per item | juru (1 worker) vs it |",
             "|---|---|---|---|---|---|---|"]
    for t in TOOLS:
        if t not in results:
            continue
        ratio = mipm["juru-1"] / mipm[t]
        lines.append("| %s | **%.0f** (%s) | %.1f | %.2f | %s | %.0f | %s |" % (
            NAMES[t], mipm[t], spread(ipm[t]), med[t]["commands"] / rows, med[t]["cpu"], mib(med[t]["peak"]),
            med[t]["machine"] / rows * 1000, "1" if t == "juru-1" else "%.2fx" % ratio))
    lines.append("")
    def goal(name, value, target, higher=True):
        met = value >= target if higher else value <= target
        return "- %s: **%.2fx** (goal %s%.1fx: %s)" % (name, value, "≥ " if higher else "≤ ", target, "met" if met else "missed")
    lines.append(goal("juru workers = 1 vs Python Selenium", mipm["juru-1"] / mipm["selenium"], 2.0))
    lines.append(goal("juru workers = 1 vs Robot Framework", mipm["juru-1"] / mipm["robot"], 3.0))
    lines.append(goal("juru workers = 2 vs workers = 1", mipm["juru-2"] / mipm["juru-1"], 1.7))
    lines.append(goal("floor vs juru workers = 1 (time per item)", mipm["floor"] / mipm["juru-1"], 1.3, higher=False))
    lines.append("- Every run left the same portal state: %d records, identical to the input rows." % rows)
    # What the machine allows, from the same runs: the floor is the fastest any client
    # can drive this workload; two workers cannot go past the cores' capacity.
    per_item = med["juru-1"]["machine"] / rows  # core-seconds per item, all processes
    ceiling = (os.cpu_count() or 1) / per_item * 60
    lines.append("- Ceilings on this machine: the floor is %.2fx Robot Framework and %.2fx Python Selenium "
                 "(no client can beat the floor by more); %d cores ÷ %.0f ms of machine CPU per item "
                 "(juru, workers = 1: client, chromedriver, Chromium and portal) = %.0f items/min, "
                 "%.2fx workers = 1, for any number of workers."
                 % (mipm["floor"] / mipm["robot"], mipm["floor"] / mipm["selenium"], os.cpu_count() or 1,
                    per_item * 1000, ceiling, ceiling / mipm["juru-1"]))
    if agent:
        lines += ["", "**Idle agent** (`juru agent`, %d schedules loaded, none due): RSS %s (%.1f MB) after it "
                  "settled (peak %s); over %d s idle %d wake-ups of its threads and %.1f ms of CPU "
                  "(goal: ≤ 15 MB, no CPU between fires: %s)."
                  % (agent["schedules"], mib(agent["rss"]), agent["rss"] / 1e6, mib(agent["hwm"]), agent["idle"],
                     agent["wakes"], agent["cpu"] * 1000,
                     "met" if agent["rss"] <= 15e6 and agent["wakes"] == 0 else "missed")]
    text = open(a.readme).read()
    start, end = "<!-- results -->", "<!-- /results -->"
    head, rest = text.split(start, 1)
    tail = rest.split(end, 1)[1]
    with open(a.readme, "w") as f:
        f.write(head + start + "\n" + "\n".join(lines) + "\n" + end + tail)
    print("\n".join(lines))


def main():
    ap = argparse.ArgumentParser()
    for k in ("juru", "portal", "floor", "python", "readme"):
        ap.add_argument("--" + k, required=True)
    ap.add_argument("--rows", type=int, default=200)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--tools", default=",".join(TOOLS))
    ap.add_argument("--no-agent", action="store_true")
    ap.add_argument("--prior", help="JSON of earlier runs of the same rows to add to the table")
    a = ap.parse_args()
    work = tempfile.mkdtemp(prefix="juru-bench-browser-")
    os.makedirs(os.path.join(work, "config"))
    rows_csv = os.path.join(work, "rows.csv")
    rows = make_rows(a.rows, rows_csv)
    want = expected_state(rows)
    tools = a.tools.split(",")
    when = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    results = {t: [] for t in tools}
    if a.prior:
        for t, runs in json.load(open(a.prior)).items():
            results.setdefault(t, []).extend(runs)
    for rnd in range(a.rounds):
        order = tools[rnd % len(tools):] + tools[:rnd % len(tools)]
        for t in order:
            r = run_one(t, a, work, rows_csv)
            if r["state"] != want:
                raise RuntimeError("%s left a different portal state (%d records)" % (t, len(r["state"])))
            results[t].append(r)
            with open(os.path.join(HERE, "..", "..", "target", "bench-browser-runs.json"), "w") as f:
                json.dump({k: [{x: y for x, y in v.items() if x != "state"} for v in vs]
                           for k, vs in results.items()}, f)
            print("round %d  %-9s %6.1f s  %6.0f items/min  %5.1f cmd/item  cpu %5.2f s  rss %s  machine %4.0f ms/item"
                  % (rnd + 1, t, r["wall"], a.rows / r["wall"] * 60, r["commands"] / a.rows, r["cpu"],
                     mib(r["peak"]), r["machine"] / a.rows * 1000), flush=True)
    agent = None if a.no_agent else agent_idle(a, work)
    if set(TOOLS) <= set(results):
        write_readme(a, results, agent, a.rows, when)
    elif agent:
        print(agent)
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
