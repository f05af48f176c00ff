"""The openpyxl side of the spreadsheet benchmark (bench/sheets/run.sh).

    python openpyxl_side.py read FILE            load_workbook(read_only=True), every value
    python openpyxl_side.py read-full FILE       load_workbook() (the default mode), every value
    python openpyxl_side.py write FILE ROWS      a styled report like juru's output.xlsx
    python openpyxl_side.py write-plain FILE ROWS  Workbook(write_only=True), values and
                                                 date formats only: openpyxl's fastest

Each prints one line of JSON, {"op", "rows", "seconds"}, the seconds being those of
the operation alone (rows to write are made in memory first, as juru_sheets.rs does).
The rows are the same as juru_sheets.rs makes.
"""

import datetime
import json
import sys
import time

from openpyxl import Workbook, load_workbook
from openpyxl.styles import Border, Font, PatternFill, Side
from openpyxl.utils import get_column_letter

HEADERS = ["No", "NIK", "NIP", "Nama", "Alamat", "Kecamatan", "Tanggal Lahir",
           "Tanggal Pengajuan", "Jumlah", "Lunas", "Status", "Keterangan"]
KECAMATAN = ["Cibinong", "Gunung Putri", "Citeureup", "Sukaraja", "Babakan Madang"]
STATUS = ["BARU", "SELESAI", "DITOLAK"]
TONES = [("C6EFCE", "006100"), ("FFEB9C", "9C5700"), ("FFC7CE", "9C0006")]


def row(i):
    return [
        i + 1,
        str(3201010000000000 + i),
        str(199001012022000000 + i),
        f"Pemohon {i}",
        f"Jl. Merdeka No. {i % 500}, RT {i % 17:03}/RW {i % 9:03}",
        KECAMATAN[i % 5],
        datetime.date(1960, 1, 1) + datetime.timedelta(days=i * 37 % 20000),
        datetime.date(2024, 1, 1) + datetime.timedelta(days=i % 366),
        (i % 1000) * 1250.5,
        i % 3 == 0,
        STATUS[i % 3],
        None if i % 4 == 0 else f"Catatan nomor {i}",
    ]


def read(path, read_only):
    t0 = time.perf_counter()
    wb = load_workbook(path, read_only=read_only)
    ws = wb.worksheets[0]
    rows = [r for r in ws.iter_rows(values_only=True) if any(v is not None for v in r)]
    seconds = time.perf_counter() - t0
    assert len(rows[0]) == 12
    wb.close()
    return len(rows) - 1, seconds


def write_styled(path, n):
    data = [row(i) for i in range(n)]
    t0 = time.perf_counter()
    wb = Workbook()
    ws = wb.active
    ws.title = "Hasil"
    bold = Font(bold=True)
    grey = PatternFill("solid", fgColor="D9D9D9")
    line = Border(bottom=Side(style="thin"))
    ws.append(HEADERS)
    for cell in ws[1]:
        cell.font, cell.fill, cell.border = bold, grey, line
    fills = [(PatternFill("solid", fgColor=f), Font(color=c)) for f, c in TONES]
    widths = [len(h) + 4 for h in HEADERS]
    for i, values in enumerate(data):
        ws.append(values)
        r = i + 2
        ws.cell(r, 7).number_format = "dd/mm/yyyy"
        ws.cell(r, 8).number_format = "dd/mm/yyyy"
        status = ws.cell(r, 11)
        status.fill, status.font = fills[i % 3]
        for c, v in enumerate(values):
            if v is not None:
                widths[c] = max(widths[c], len(str(v)) + 2)
    ws.freeze_panes = "A2"
    ws.auto_filter.ref = f"A1:{get_column_letter(12)}{n + 1}"
    for c, w in enumerate(widths):
        ws.column_dimensions[get_column_letter(c + 1)].width = min(w, 60)
    wb.save(path)
    return time.perf_counter() - t0


def write_plain(path, n):
    from openpyxl.cell import WriteOnlyCell

    data = [row(i) for i in range(n)]
    t0 = time.perf_counter()
    wb = Workbook(write_only=True)
    ws = wb.create_sheet("Hasil")
    ws.append(HEADERS)
    for values in data:
        cells = []
        for c, v in enumerate(values):
            if c in (6, 7):
                cell = WriteOnlyCell(ws, value=v)
                cell.number_format = "dd/mm/yyyy"
                cells.append(cell)
            else:
                cells.append(v)
        ws.append(cells)
    wb.save(path)
    return time.perf_counter() - t0


def main():
    op, path = sys.argv[1], sys.argv[2]
    if op in ("read", "read-full"):
        rows, seconds = read(path, read_only=(op == "read"))
    elif op in ("write", "write-plain"):
        rows = int(sys.argv[3])
        seconds = (write_styled if op == "write" else write_plain)(path, rows)
    else:
        sys.exit(f"unknown operation {op!r}")
    print(json.dumps({"op": op, "rows": rows, "seconds": round(seconds, 4)}))


if __name__ == "__main__":
    main()
