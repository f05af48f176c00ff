"""Drives the spreadsheet benchmark (see run.sh) and writes README.md beside it.

Each measurement is one process: juru_sheets (Rust, release) or openpyxl_side.py.
The processes report the time of the operation itself; the wall time of the whole
process, its CPU time (user + system) and its peak resident memory (getrusage's
ru_maxrss) are taken here.
Rounds are interleaved (every case once per round, the order rotating), and the
table shows medians.
"""

import argparse
import datetime
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))


def measure(cmd):
    """(the process's JSON report, wall seconds, CPU seconds, peak RSS in MiB)."""
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    out, err = proc.stdout.read(), proc.stderr.read()
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - t0
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        sys.exit(f"{' '.join(cmd)} failed ({proc.returncode}):\n{err.decode()}")
    report = json.loads(out.decode().strip().splitlines()[-1])
    return report, wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024.0


def load():
    return os.getloadavg()[0]


def machine():
    cpu = "unknown CPU"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    mem = ""
    try:
        with open("/proc/meminfo") as f:
            kib = int(f.readline().split()[1])
            mem = f", {kib / 1024 / 1024:.0f} GiB memory"
    except (OSError, ValueError, IndexError):
        pass
    rustc = subprocess.run(["rustc", "--version"], capture_output=True, text=True).stdout.strip()
    import openpyxl

    return (
        f"{cpu}, {os.cpu_count()} cores{mem}; Linux {platform.release()}; "
        f"{rustc}; Python {platform.python_version()}, openpyxl {openpyxl.__version__}"
    )


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--juru", required=True)
    ap.add_argument("--rows", type=int, default=100_000)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--readme", required=True)
    args = ap.parse_args()
    py = sys.executable
    side = os.path.join(HERE, "openpyxl_side.py")
    rows = str(args.rows)

    load_start = load()
    with tempfile.TemporaryDirectory(prefix="juru-bench-") as tmp:
        source = os.path.join(tmp, "input.xlsx")
        subprocess.run([args.juru, "gen", source, rows], check=True)
        size = os.path.getsize(source) / 1024 / 1024
        out = lambda name: os.path.join(tmp, name)
        groups = {
            "read": [
                ("juru", [args.juru, "read", source]),
                ("openpyxl, read_only=True", [py, side, "read", source]),
                ("openpyxl, default mode", [py, side, "read-full", source]),
            ],
            "write": [
                ("juru", [args.juru, "write", out("juru.xlsx"), rows]),
                ("openpyxl, same styling", [py, side, "write", out("openpyxl.xlsx"), rows]),
                ("openpyxl, write_only=True, no styling",
                 [py, side, "write-plain", out("openpyxl-plain.xlsx"), rows]),
            ],
        }
        results = {(g, name): [] for g, cases in groups.items() for name, _ in cases}
        for r in range(args.rounds):
            for g, cases in groups.items():
                turn = cases[r % len(cases):] + cases[: r % len(cases)]
                for name, cmd in turn:
                    report, wall, cpu, rss = measure(cmd)
                    if report["rows"] != args.rows:
                        sys.exit(f"{name} {g}: {report['rows']} rows, expected {args.rows}")
                    results[(g, name)].append((report["seconds"], wall, cpu, rss))
                    print(f"round {r + 1} {g:5} {name:40} {report['seconds']:8.3f} s  "
                          f"cpu {cpu:7.3f} s  {rss:7.1f} MiB  load {load():.1f}", flush=True)
        # Each side reads what the other wrote: both files are real workbooks.
        check = measure([py, side, "read", out("juru.xlsx")])[0]
        assert check["rows"] == args.rows, check
        check = measure([args.juru, "read", out("openpyxl.xlsx")])[0]
        assert check["rows"] == args.rows, check
    load_end = load()

    median = lambda xs: statistics.median(xs)
    table = []
    goals = {"read": ("openpyxl, read_only=True", 10), "write": ("openpyxl, same styling", 5)}
    verdict = []
    column = lambda runs, i: median([run[i] for run in runs])
    for g, cases in groups.items():
        juru = column(results[(g, "juru")], 0)
        juru_cpu = column(results[(g, "juru")], 2)
        for name, _ in cases:
            runs = results[(g, name)]
            secs, wall, cpu, rss = (column(runs, i) for i in range(4))
            ratio = "1" if name == "juru" else f"{secs / juru:.1f}x"
            cpu_ratio = "1" if name == "juru" else f"{cpu / juru_cpu:.1f}x"
            table.append(
                f"| {g} | {name} | {secs:.3f} s | {wall:.3f} s | {cpu:.3f} s | {rss:.0f} MiB "
                f"| {ratio} | {cpu_ratio} |"
            )
        goal_case, goal = goals[g]
        achieved = column(results[(g, goal_case)], 0) / juru
        achieved_cpu = column(results[(g, goal_case)], 2) / juru_cpu
        # The smaller of the two ratios decides.
        worst = min(achieved, achieved_cpu)
        verdict.append(
            f"- **{g}**: juru is **{worst:.1f}x** as fast as {goal_case} "
            f"({achieved:.1f}x by time, {achieved_cpu:.1f}x by CPU time; goal {goal}x: "
            f"{'met' if worst >= goal else 'NOT met'})."
        )
    busy = ""
    if max(load_start, load_end) > (os.cpu_count() or 1):
        busy = (
            f"\n\nThe machine was busy with other work (load above its {os.cpu_count()} "
            "cores), which stretches wall-clock times unevenly; the CPU columns are the "
            "fairer comparison."
        )

    when = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    readme = f"""# Spreadsheet benchmark: juru against openpyxl

How fast juru reads a bot's input workbook and writes an output workbook, next to
[openpyxl](https://openpyxl.readthedocs.io/), the library most Python RPA scripts use.

## Method

- The workbook: {args.rows:,} rows x 12 columns (a row number, a 16-digit NIK and an
  18-digit NIP as text, name, address, district, two dates, an amount, a boolean, a
  status, a note that is empty in every fourth row), {size:.1f} MB as .xlsx, stored the
  way Excel stores it (a shared-strings table, dates formatted as dates) by
  `juru_sheets.rs gen`. Both sides make exactly the same rows (`juru_sheets.rs`,
  `openpyxl_side.py`).
- **read**: juru reads it as a bot's input (`juru::sheet::read_with`: sheet chosen,
  header row found, every value typed, blank rows skipped, where the table ends
  decided, formula errors looked for, columns judged as a whole, and six columns
  declared as a bot would in `[input.columns]`: NIK `nik`, NIP `nip`, the two dates
  `date`, Jumlah `rupiah`, Lunas `yes_no`, each value normalised and checked);
  openpyxl loads it and
  takes every row's values, in its fastest mode (`read_only=True`) and in its default
  mode.
- **write**: juru writes it as it writes `output.xlsx` (`juru::sheet::write`: bold
  frozen header, filters, fitted column widths, date formats, coloured status cells,
  written to a temporary file and renamed into place); openpyxl writes the same
  styling, and, for reference, plain values in its fastest mode (`write_only=True`).
  The rows are made in memory before the clock starts, on both sides.
- Every measurement is its own process, {args.rounds} rounds interleaved (each case
  once per round, the order rotating); the table shows medians. *Operation* is the
  time of the read or write alone, as each process measures it; *process* is the
  whole process's wall time (Python's start-up and imports included); *peak memory*
  is the process's peak resident set size (`getrusage` `ru_maxrss`). *CPU* is the
  whole process's user + system time, which other work on the machine hardly
  changes; the 1-minute load average is shown, as a busy machine slows short
  runs (juru's) more than long ones.
- Afterwards each side reads the file the other wrote, so both are real workbooks.

## Command

```sh
bench/sheets/run.sh            # or: bench/sheets/run.sh ROWS ROUNDS
```

It builds `bench/sheets/juru_sheets.rs` in release (into `target/bench`), installs
openpyxl 3.1.5 into `bench/.venv`, runs the rounds and rewrites this file.

## Latest results

{when}, on {machine()}; load average {load_start:.1f} at the start, {load_end:.1f} at
the end.

| op | tool | operation | process | process CPU | peak memory | time / juru's | CPU / juru's |
|---|---|---|---|---|---|---|---|
{chr(10).join(table)}

{chr(10).join(verdict)}{busy}
"""
    with open(args.readme, "w") as f:
        f.write(readme)
    print(f"wrote {args.readme}")
    print("\n".join(verdict))


if __name__ == "__main__":
    main()
