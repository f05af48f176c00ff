//! From a grid of cells (one sheet, any format) to a [`Table`]: the header row,
//! the columns in use, renames, date columns, the row filter and the check for
//! required columns.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};

use super::cell::{date_from_serial, parse_date};
use super::guard::{count_text, MAX_CELLS};
use super::hidden::HiddenRows;
use super::read::too_many_cells;
use super::shape::{self, Pass, PassedOver};
use super::types::{self, CellProblem, ColumnType, ValueProblem};
use super::{Cell, ColumnUse, MissingColumns, ReadOptions, SheetError};

/// How many non-blank rows from the top the automatic header search looks at.
const HEADER_SEARCH_ROWS: usize = 30;

/// One sheet read from a workbook: a header row and the data rows below it.
#[derive(Debug, Clone, PartialEq)]
pub struct Table {
    /// The workbook the table was read from.
    pub path: PathBuf,
    /// The name of the sheet, as the workbook spells it (for a CSV file: the
    /// file name without its extension).
    pub sheet: String,
    /// The 1-based row number of the header row, as Excel shows it.
    pub header_row: u32,
    /// Header texts, trimmed, runs of spaces and line breaks made one space,
    /// renamed as asked. An empty header cell is `Kolom N` (N = the 1-based
    /// column number in the sheet); a header seen before gets ` (2)`, ` (3)`…
    pub headers: Vec<String>,
    /// The data rows below the header, without blank rows and without the
    /// rows the filter left out.
    pub rows: Vec<Row>,
    /// How many non-blank rows the filter left out.
    pub filtered: usize,
    /// The rows below the header that are not records (total and template
    /// rows, what lies below the table), with why, in sheet order.
    pub passed_over: Vec<PassedOver>,
}

/// One data row of a [`Table`].
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    /// 1-based row number as Excel shows it (for CSV: the line number).
    pub number: u32,
    /// One cell per header, in the same order.
    pub cells: Vec<Cell>,
    /// What is wrong with the row's values (a formula error, a formula
    /// without a saved value, a value of a declared column that fails its
    /// type): a row with problems is a record a person must fix, not work.
    pub problems: Vec<CellProblem>,
}

impl Table {
    /// Column index by header text, case-insensitive, surrounding spaces ignored.
    pub fn column(&self, header: &str) -> Option<usize> {
        let wanted = header_key(header);
        self.headers.iter().position(|h| header_key(h) == wanted)
    }

    /// The headers of `required` that the table lacks (same matching rule), in the given order.
    pub fn missing(&self, required: &[String]) -> Vec<String> {
        required
            .iter()
            .filter(|r| self.column(r).is_none())
            .cloned()
            .collect()
    }

    /// The cell of `row` in the column named `header`, if the table has it.
    pub fn cell<'a>(&self, row: &'a Row, header: &str) -> Option<&'a Cell> {
        self.column(header).and_then(|c| row.cells.get(c))
    }
}

/// How headers are compared: trimmed, lower case, inner runs of white space as
/// one space.
pub(super) fn header_key(header: &str) -> String {
    collapse_spaces(header).to_lowercase()
}

fn collapse_spaces(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// The rows of one sheet: `(1-based row number, cells from the sheet's first
/// used column on)`.
pub(super) struct Grid {
    pub rows: Vec<(u32, Vec<Cell>)>,
    /// The 1-based column number of each row's first cell.
    pub first_column: u32,
    /// The workbook counts days from 1904 (only matters for day numbers in
    /// declared date columns).
    pub is_1904: bool,
    /// Merged regions, 0-based.
    pub merged: Vec<Merged>,
    /// What the values of some cells do not show, by (1-based row number,
    /// index in the row's cells).
    pub marks: Marks,
    /// Read from a text file (CSV): numbers were text, so a column's
    /// separator convention decides what a number is.
    pub text_file: bool,
    /// Rows hidden in the workbook (only read for `visible_only`).
    pub hidden: HiddenRows,
}

/// What a cell's value does not show by itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Mark {
    /// A number of 16 digits or more, read as its digits: Excel kept only 15.
    Big,
    /// A formula whose result is this error (`#VALUE!`).
    Error(String),
    /// A formula saved without its result.
    NoValue,
}

pub(super) type Marks = HashMap<(u32, usize), Mark>;

/// A merged region: `((first row, first column), (last row, last column))`, 0-based.
pub(super) type Merged = ((u32, u32), (u32, u32));

pub(super) fn build(
    path: &Path,
    sheet: String,
    grid: Grid,
    options: &ReadOptions,
) -> Result<Table, SheetError> {
    let Grid {
        mut rows,
        first_column,
        is_1904,
        merged,
        marks,
        text_file,
        hidden,
    } = grid;
    let empty = || SheetError::Empty {
        path: path.to_path_buf(),
        sheet: sheet.clone(),
    };
    let blank = |cells: &[Cell]| cells.iter().all(Cell::is_empty);

    let header_at = match options.header_row {
        Some(wanted) => {
            let found = rows
                .iter()
                .position(|(n, cells)| *n == wanted && !blank(cells));
            found.ok_or_else(|| SheetError::HeaderRow {
                path: path.to_path_buf(),
                sheet: sheet.clone(),
                row: wanted,
            })?
        }
        None => find_header(&rows).ok_or_else(empty)?,
    };

    // The columns with something in them, from the header row down.
    let mut first = usize::MAX;
    let mut last = 0;
    for (_, cells) in &rows[header_at..] {
        for (j, c) in cells.iter().enumerate() {
            if !c.is_empty() {
                first = first.min(j);
                last = last.max(j);
            }
        }
    }
    if first == usize::MAX {
        return Err(empty());
    }

    // Every row gets a cell for every column: one value far to the right
    // widens them all.
    let width = last - first + 1;
    let data_rows = rows.len() - header_at - 1;
    if data_rows.saturating_mul(width) > MAX_CELLS {
        return Err(SheetError::Refused {
            path: path.to_path_buf(),
            reason: too_many_cells(
                &sheet,
                &format!(
                    "its table of {} rows by {} columns (from {} to {}) holds {} cells, more than {}",
                    count_text(data_rows as u64),
                    count_text(width as u64),
                    column_letters(u64::from(first_column) + first as u64),
                    column_letters(u64::from(first_column) + last as u64),
                    count_text(data_rows.saturating_mul(width) as u64),
                    count_text(MAX_CELLS as u64)
                ),
            ),
        });
    }

    let header_row = rows[header_at].0;
    let mut headers: Vec<String> = Vec::with_capacity(last - first + 1);
    for j in first..=last {
        let text = rows[header_at]
            .1
            .get(j)
            .map(|c| collapse_spaces(&c.to_text()))
            .unwrap_or_default();
        let mut name = if text.is_empty() {
            format!("Kolom {}", u64::from(first_column) + j as u64)
        } else {
            text
        };
        if let Some((_, to)) = options
            .rename
            .iter()
            .find(|(from, _)| header_key(from) == header_key(&name))
        {
            name = collapse_spaces(to);
        }
        headers.push(name);
    }
    check_renames(path, &sheet, &headers, &rows[header_at].1, first, options)?;
    dedupe(&mut headers);

    let mut table = Table {
        path: path.to_path_buf(),
        sheet,
        header_row,
        headers,
        rows: Vec::with_capacity(rows.len() - header_at - 1),
        filtered: 0,
        passed_over: Vec::new(),
    };

    // Every column the options name must exist: report them all at once.
    let find_all = |names: &[String], used_for: ColumnUse| {
        let names = table.missing(names);
        (!names.is_empty()).then_some(MissingColumns { used_for, names })
    };
    let filter_columns: Vec<String> = options.filter.iter().map(|(c, _)| c.clone()).collect();
    let typed_columns: Vec<String> = options.columns.iter().map(|(c, _)| c.clone()).collect();
    let missing: Vec<MissingColumns> = [
        find_all(&options.required, ColumnUse::Required),
        find_all(&options.dates, ColumnUse::Dates),
        find_all(&filter_columns, ColumnUse::Filter),
        find_all(&typed_columns, ColumnUse::Types),
    ]
    .into_iter()
    .flatten()
    .collect();
    if !missing.is_empty() {
        return Err(SheetError::Columns {
            path: table.path,
            sheet: table.sheet,
            headers: table.headers,
            missing,
        });
    }
    let date_columns: Vec<usize> = options
        .dates
        .iter()
        .filter_map(|d| table.column(d))
        .collect();
    let typed: Vec<(usize, ColumnType)> = options
        .columns
        .iter()
        .filter_map(|(c, ty)| table.column(c).map(|i| (i, *ty)))
        .collect();
    let filters: Vec<(usize, Vec<String>)> = options
        .filter
        .iter()
        .filter_map(|(c, values)| {
            let keys = values.iter().map(|v| header_key(v)).collect();
            table.column(c).map(|i| (i, keys))
        })
        .collect();

    // Rows blank before merged values are spread stay blank.
    let was_blank: Vec<bool> = rows[header_at + 1..]
        .iter()
        .map(|(_, cells)| blank(cells))
        .collect();
    // Total, template and trailing rows are judged as the sheet holds them,
    // before a merged label is copied into the cells beside it.
    let required_columns: Vec<usize> = options
        .required
        .iter()
        .filter_map(|r| table.column(r))
        .collect();
    let passes = {
        let view: Vec<(u32, &[Cell])> = rows[header_at + 1..]
            .iter()
            .map(|(n, cells)| {
                let to = cells.len().min(first + width);
                (*n, cells.get(first..to).unwrap_or(&[]))
            })
            .collect();
        shape::classify(&view, &table.headers, &required_columns)
    };
    spread_merged(&mut rows[header_at + 1..], &merged, first_column);

    let mut joins = false;
    for (((number, cells), was_blank), pass) in
        rows.drain(header_at + 1..).zip(was_blank).zip(passes)
    {
        if was_blank {
            continue;
        }
        let pass = if !hidden.is_empty() && hidden.contains(number) {
            Some(Pass::Hidden)
        } else {
            pass
        };
        if let Some(why) = pass {
            shape::push(&mut table.passed_over, number, why, joins);
            joins = true;
            continue;
        }
        joins = false;
        let mut cells: Vec<Cell> = cells.into_iter().skip(first).take(width).collect();
        cells.resize(width, Cell::Empty);
        for &c in &date_columns {
            as_date(&mut cells[c], is_1904);
        }
        let keep = filters
            .iter()
            .all(|(c, keys)| keys.contains(&header_key(&cells[*c].to_text())));
        if keep {
            let mut problems = Vec::new();
            let mut big = vec![false; width];
            let name = |j: usize| {
                format!(
                    "{}{number}",
                    column_letters(u64::from(first_column) + (first + j) as u64)
                )
            };
            if !marks.is_empty() {
                for (j, is_big) in big.iter_mut().enumerate() {
                    let problem = match marks.get(&(number, first + j)) {
                        Some(Mark::Error(code)) => {
                            ValueProblem::FormulaError { code: code.clone() }
                        }
                        Some(Mark::NoValue) => ValueProblem::NoCachedValue,
                        Some(Mark::Big) => {
                            *is_big = true;
                            continue;
                        }
                        None => continue,
                    };
                    problems.push(CellProblem {
                        cell: name(j),
                        column: table.headers[j].clone(),
                        problem,
                    });
                }
            }
            for &(j, ty) in &typed {
                if problems.iter().any(|p| p.column == table.headers[j]) {
                    continue;
                }
                match types::normalise(&cells[j], ty, big[j], is_1904) {
                    Ok(value) => cells[j] = value,
                    Err(problem) => problems.push(CellProblem {
                        cell: name(j),
                        column: table.headers[j].clone(),
                        problem,
                    }),
                }
            }
            table.rows.push(Row {
                number,
                cells,
                problems,
            });
        } else {
            table.filtered += 1;
        }
    }
    let settled: Vec<usize> = typed
        .iter()
        .map(|(j, _)| *j)
        .chain(date_columns.iter().copied())
        .collect();
    infer(&mut table.rows, width, &settled, is_1904, text_file);
    Ok(table)
}

/// What the cells of a column are, to judge the column as a whole.
#[derive(Default)]
struct Census {
    filled: usize,
    dates: usize,
    numbers: usize,
    /// Text in the Indonesian form only (`1.250.000`, `1.000,5`, `12,5`).
    indonesian: usize,
    /// Text in the English form only (`1,250,000`, `1,000.50`), or (from a
    /// text file) numbers written with a decimal point.
    english: usize,
    /// Text either way (`875.500`, `1,500`).
    ambiguous: usize,
}

/// How a number written as text reads.
#[derive(PartialEq)]
enum Form {
    Indonesian,
    English,
    Ambiguous,
}

/// The form of number text: `None` when it is no number.
fn number_form(text: &str) -> Option<Form> {
    // Most text (names, addresses, ids of digits only) is no such number:
    // tell that without allocating.
    if !text.bytes().any(|b| b == b'.' || b == b',')
        || !text
            .bytes()
            .all(|b| b.is_ascii_digit() || matches!(b, b'.' | b',' | b'-' | b' ' | b'R' | b'p'))
    {
        return None;
    }
    let t: String = text
        .trim()
        .trim_start_matches("Rp.")
        .trim_start_matches("Rp")
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect();
    let t = t.strip_prefix('-').unwrap_or(&t);
    if t.is_empty()
        || !t
            .bytes()
            .all(|b| b.is_ascii_digit() || b == b'.' || b == b',')
        || !t.starts_with(|c: char| c.is_ascii_digit())
    {
        return None;
    }
    let grouped = |s: &str, sep: char| {
        let groups: Vec<&str> = s.split(sep).collect();
        groups.len() >= 2
            && (1..=3).contains(&groups[0].len())
            && groups[1..].iter().all(|g| g.len() == 3)
    };
    let dots = t.matches('.').count();
    let commas = t.matches(',').count();
    match (dots, commas) {
        (0, 0) => None,
        (1, 0) if grouped(t, '.') => Some(Form::Ambiguous),
        (0, 1) if grouped(t, ',') => Some(Form::Ambiguous),
        (_, 0) if grouped(t, '.') => Some(Form::Indonesian),
        (0, _) if grouped(t, ',') => Some(Form::English),
        (0, 1) => Some(Form::Indonesian),
        (1, 0) => Some(Form::English),
        _ => {
            let (whole, _) = t.rsplit_once([',', '.'])?;
            let last = t[whole.len()..].chars().next()?;
            if last == ',' && (!whole.contains(',')) && (whole.len() <= 3 || grouped(whole, '.')) {
                Some(Form::Indonesian)
            } else if last == '.' && !whole.contains('.') && grouped(whole, ',') {
                Some(Form::English)
            } else {
                None
            }
        }
    }
}

/// English number text (`1,250,000.5`) as a number.
fn english_number(text: &str) -> Option<f64> {
    let t: String = text
        .trim()
        .trim_start_matches("Rp.")
        .trim_start_matches("Rp")
        .chars()
        .filter(|c| !c.is_whitespace() && *c != ',')
        .collect();
    t.parse().ok()
}

/// Columns nobody declared, judged as a whole: in a column mostly of dates,
/// date text and day numbers become dates; in a column mostly of numbers,
/// number text becomes numbers, read by the separator convention the column
/// shows (text that could be read either way stays text when the column does
/// not say which).
fn infer(rows: &mut [Row], width: usize, settled: &[usize], is_1904: bool, text_file: bool) {
    for j in (0..width).filter(|j| !settled.contains(j)) {
        let mut census = Census::default();
        for row in rows.iter() {
            let cell = &row.cells[j];
            if cell.is_empty() {
                continue;
            }
            census.filled += 1;
            match cell {
                Cell::Date(_) | Cell::DateTime(_) => census.dates += 1,
                Cell::Float(_) if text_file => census.english += 1,
                Cell::Int(_) | Cell::Float(_) => census.numbers += 1,
                Cell::Text(t) => match number_form(t) {
                    Some(Form::Indonesian) => census.indonesian += 1,
                    Some(Form::English) => census.english += 1,
                    Some(Form::Ambiguous) => census.ambiguous += 1,
                    None => {}
                },
                _ => {}
            }
        }
        if census.filled == 0 {
            continue;
        }
        if census.dates * 2 >= census.filled && census.dates < census.filled {
            for row in rows.iter_mut() {
                let cell = &mut row.cells[j];
                let date = match cell {
                    Cell::Text(t) => parse_date(t),
                    Cell::Int(n) if (20_000..=80_000).contains(n) => {
                        date_from_serial(*n as f64, is_1904)
                    }
                    _ => None,
                };
                if let Some(date) = date {
                    *cell = date;
                }
            }
            continue;
        }
        let numeric = census.numbers + census.indonesian + census.english + census.ambiguous;
        if numeric * 2 <= census.filled
            || census.indonesian + census.english + census.ambiguous == 0
        {
            continue;
        }
        // Which convention: a workbook's text is Indonesian unless it shows
        // English; a text file must show one of them, and only one.
        let indonesian = if text_file {
            match (census.indonesian > 0, census.english > 0) {
                (true, false) => Some(true),
                (false, true) => Some(false),
                _ => None,
            }
        } else {
            (census.english == 0).then_some(true)
        };
        let Some(indonesian) = indonesian else {
            continue;
        };
        for row in rows.iter_mut() {
            let cell = &mut row.cells[j];
            let Cell::Text(t) = cell else {
                continue;
            };
            let value = match number_form(t) {
                None => None,
                Some(_) if indonesian => types::parse_number(t),
                Some(_) => english_number(t),
            };
            if let Some(x) = value {
                *cell = if x.fract() == 0.0 && x.abs() < 1e15 {
                    Cell::Int(x as i64)
                } else {
                    Cell::Float(x)
                };
            }
        }
    }
}

/// The first of the top rows that is mostly filled, mostly with text: the
/// header, even under a title row (a merged title keeps its text in one cell).
/// Without such a row, the first non-blank row.
fn find_header(rows: &[(u32, Vec<Cell>)]) -> Option<usize> {
    let top: Vec<(usize, usize, usize)> = rows
        .iter()
        .enumerate()
        .filter_map(|(i, (_, cells))| {
            let filled = cells.iter().filter(|c| !c.is_empty()).count();
            let text = cells
                .iter()
                .filter(|c| matches!(c, Cell::Text(t) if !t.trim().is_empty()))
                .count();
            (filled > 0).then_some((i, filled, text))
        })
        .take(HEADER_SEARCH_ROWS)
        .collect();
    let widest = top.iter().map(|(_, filled, _)| *filled).max()?;
    top.iter()
        .find(|(_, filled, text)| filled * 3 >= widest * 2 && text * 2 > *filled)
        .or_else(|| top.first())
        .map(|(i, _, _)| *i)
}

/// A region merged below the header (a district written once for several
/// rows) has its value in every cell of the region, as people read it.
fn spread_merged(rows: &mut [(u32, Vec<Cell>)], merged: &[Merged], first_column: u32) {
    let Some(first_number) = rows.first().map(|(n, _)| *n) else {
        return;
    };
    let index = |rows: &[(u32, Vec<Cell>)], row0: u32| -> Option<usize> {
        let number = row0.checked_add(1)?;
        rows.binary_search_by_key(&number, |(n, _)| *n).ok()
    };
    for &((top, left), (bottom, right)) in merged {
        // Only regions wholly below the header.
        if top + 1 < first_number {
            continue;
        }
        let Some(col) = left.checked_sub(first_column.saturating_sub(1)) else {
            continue;
        };
        let Some(value) = index(rows, top)
            .and_then(|i| rows[i].1.get(col as usize))
            .filter(|c| !c.is_empty())
            .cloned()
        else {
            continue;
        };
        // The rows of the sheet inside the region (a region may say it spans
        // a million rows: only those there are are visited).
        let from = rows.partition_point(|(n, _)| *n <= top);
        let to = rows.partition_point(|(n, _)| u64::from(*n) <= u64::from(bottom) + 1);
        for row in rows[from.min(to)..to].iter_mut() {
            let cells = &mut row.1;
            let last = right.saturating_sub(first_column - 1) as usize;
            for cell in cells.iter_mut().take(last + 1).skip(col as usize) {
                if cell.is_empty() {
                    *cell = value.clone();
                }
            }
        }
    }
}

/// `"A"`, `"Z"`, `"AA"`: a 1-based column number as Excel names it.
fn column_letters(mut n: u64) -> String {
    let mut letters = Vec::new();
    while n > 0 {
        letters.push(b'A' + ((n - 1) % 26) as u8);
        n = (n - 1) / 26;
    }
    letters.reverse();
    String::from_utf8_lossy(&letters).into_owned()
}

/// Two columns may not end up with the same name through `rename`.
fn check_renames(
    path: &Path,
    sheet: &str,
    headers: &[String],
    original: &[Cell],
    first: usize,
    options: &ReadOptions,
) -> Result<(), SheetError> {
    if options.rename.is_empty() {
        return Ok(());
    }
    let mut first_with: HashMap<String, usize> = HashMap::with_capacity(headers.len());
    for (i, h) in headers.iter().enumerate() {
        let key = header_key(h);
        if let Some(&j) = first_with.get(&key) {
            let was = |k: usize| {
                let text = original
                    .get(first + k)
                    .map(|c| collapse_spaces(&c.to_text()))
                    .unwrap_or_default();
                if text.is_empty() {
                    headers[k].clone()
                } else {
                    text
                }
            };
            let (a, b) = (was(j), was(i));
            if header_key(&a) != header_key(&b) {
                return Err(SheetError::RenameClash {
                    path: path.to_path_buf(),
                    sheet: sheet.to_string(),
                    name: h.clone(),
                    columns: vec![a, b],
                });
            }
        } else {
            first_with.insert(key, i);
        }
    }
    Ok(())
}

/// Repeated headers get ` (2)`, ` (3)`… so that each column can be named.
/// (Keys seen are kept in a set, and the next number to try for each name,
/// so that a row of thousands of equal headers costs no more than a row of
/// different ones.)
fn dedupe(headers: &mut [String]) {
    let mut seen: HashSet<String> = HashSet::with_capacity(headers.len());
    let mut next: HashMap<String, u64> = HashMap::new();
    for h in headers.iter_mut() {
        let key = header_key(h);
        if seen.insert(key.clone()) {
            continue;
        }
        let n = next.entry(key).or_insert(2);
        loop {
            let name = format!("{h} ({n})");
            *n += 1;
            if seen.insert(header_key(&name)) {
                *h = name;
                break;
            }
        }
    }
}

/// A cell of a declared date column: dates stay, date text and day numbers
/// become dates, anything else stays as it is (for the script to judge).
fn as_date(cell: &mut Cell, is_1904: bool) {
    let converted = match cell {
        Cell::Text(t) => parse_date(t),
        Cell::Int(n) => date_from_serial(*n as f64, is_1904),
        Cell::Float(x) => date_from_serial(*x, is_1904),
        _ => None,
    };
    if let Some(date) = converted {
        *cell = date;
    }
}

#[cfg(test)]
mod unit {
    use super::*;

    fn t(s: &str) -> Cell {
        Cell::Text(s.into())
    }

    fn grid(rows: Vec<Vec<Cell>>) -> Grid {
        Grid {
            rows: rows
                .into_iter()
                .enumerate()
                .map(|(i, r)| (i as u32 + 1, r))
                .collect(),
            first_column: 1,
            is_1904: false,
            merged: Vec::new(),
            marks: Marks::new(),
            text_file: false,
            hidden: HiddenRows::default(),
        }
    }

    #[test]
    fn header_search_passes_over_title_rows() {
        let rows = vec![
            vec![t("DAFTAR PERMOHONAN"), Cell::Empty, Cell::Empty],
            vec![t("Periode Januari 2024"), Cell::Empty, Cell::Empty],
            vec![Cell::Empty, Cell::Empty, Cell::Empty],
            vec![t("No"), t("NIK"), t("Nama")],
            vec![Cell::Int(1), t("3201010101010001"), t("Ani")],
        ];
        let table = build(
            Path::new("x.xlsx"),
            "S".into(),
            grid(rows),
            &ReadOptions::default(),
        )
        .unwrap();
        assert_eq!(table.header_row, 4);
        assert_eq!(table.headers, ["No", "NIK", "Nama"]);
        assert_eq!(table.rows.len(), 1);
        assert_eq!(table.rows[0].number, 5);
    }

    #[test]
    fn single_column_and_numeric_sheets_take_the_first_row() {
        let rows = vec![vec![t("NIK")], vec![t("1")], vec![t("2")]];
        let table = build(
            Path::new("x.csv"),
            "x".into(),
            grid(rows),
            &ReadOptions::default(),
        )
        .unwrap();
        assert_eq!(table.headers, ["NIK"]);
        let rows = vec![
            vec![Cell::Int(1), Cell::Int(2)],
            vec![Cell::Int(3), Cell::Int(4)],
        ];
        let table = build(
            Path::new("x.csv"),
            "x".into(),
            grid(rows),
            &ReadOptions::default(),
        )
        .unwrap();
        assert_eq!(table.headers, ["1", "2"]);
    }

    #[test]
    fn repeated_headers_are_numbered() {
        let mut h = vec![
            "Ket".to_string(),
            "ket".into(),
            "Ket (2)".into(),
            "Ket".into(),
        ];
        dedupe(&mut h);
        assert_eq!(h, ["Ket", "ket (2)", "Ket (2) (2)", "Ket (3)"]);

        // Thousands of equal headers cost no more than different ones.
        let started = std::time::Instant::now();
        let mut h = vec!["X".to_string(); 16_384];
        dedupe(&mut h);
        assert_eq!(h[16_383], "X (16384)");
        assert!(started.elapsed() < std::time::Duration::from_secs(5));
    }

    #[test]
    fn merged_regions_visit_only_the_rows_there_are() {
        let mut rows: Vec<(u32, Vec<Cell>)> = vec![
            (2, vec![t("Cibinong"), t("Pakansari")]),
            (3, vec![Cell::Empty, t("Tengah")]),
            (1_000_000, vec![Cell::Empty, t("Jauh")]),
        ];
        // A thousand regions, each claiming a million rows and every column.
        let merged: Vec<Merged> = (0..1000).map(|_| ((1, 0), (1_048_575, 16_383))).collect();
        let started = std::time::Instant::now();
        spread_merged(&mut rows, &merged, 1);
        assert!(started.elapsed() < std::time::Duration::from_secs(5));
        assert_eq!(rows[1].1[0], t("Cibinong"));
        assert_eq!(rows[2].1[0], t("Cibinong"));
        assert_eq!(rows[2].1[1], t("Jauh"));
    }

    #[test]
    fn date_column_cells() {
        let mut c = t("31/12/2024");
        as_date(&mut c, false);
        assert_eq!(
            c,
            Cell::Date(chrono::NaiveDate::from_ymd_opt(2024, 12, 31).unwrap())
        );
        let mut c = Cell::Int(45292);
        as_date(&mut c, false);
        assert_eq!(
            c,
            Cell::Date(chrono::NaiveDate::from_ymd_opt(2024, 1, 1).unwrap())
        );
        let mut c = t("belum ada");
        as_date(&mut c, false);
        assert_eq!(c, t("belum ada"));
    }
}
