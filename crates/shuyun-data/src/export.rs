//! Exporting a stored version as CSV (open data, A8): record batches in,
//! CSV text out, in the formats ingest accepts back — dates `YYYY-MM-DD`,
//! timestamps `YYYY-MM-DD HH:MM:SS` in Beijing time, money in integer fen —
//! so a downloaded file loads again unchanged.

use arrow_array::cast::AsArray;
use arrow_array::types::{Date32Type, Float64Type, Int64Type, TimestampMillisecondType};
use arrow_array::{Array, RecordBatch};

use crate::ingest::civil::civil_from_days;

const DAY_MS: i64 = 86_400_000;
const BEIJING_MS: i64 = 8 * 3_600_000;

fn quote_into(out: &mut String, s: &str) {
    if s.contains([',', '"', '\n', '\r']) || s.starts_with([' ', '\t']) || s.ends_with([' ', '\t'])
    {
        out.push('"');
        out.push_str(&s.replace('"', "\"\""));
        out.push('"');
    } else {
        out.push_str(s);
    }
}

fn date_into(out: &mut String, days: i64) {
    let (y, m, d) = civil_from_days(days);
    out.push_str(&format!("{y:04}-{m:02}-{d:02}"));
}

/// The header line: field names, comma-separated, CRLF-terminated, with a
/// UTF-8 BOM so spreadsheet programs read Chinese correctly.
pub fn csv_header(batch_schema: &arrow_schema::Schema) -> String {
    let mut out = String::from("\u{feff}");
    for (i, f) in batch_schema.fields().iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        quote_into(&mut out, f.name());
    }
    out.push_str("\r\n");
    out
}

/// The rows of a batch as CSV lines (CRLF-terminated); empty values are
/// empty cells.
pub fn csv_rows(batch: &RecordBatch) -> String {
    let mut out = String::with_capacity(batch.num_rows() * 64);
    let cols = batch.columns();
    for row in 0..batch.num_rows() {
        for (i, c) in cols.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            if c.is_null(row) {
                continue;
            }
            if let Some(a) = c.as_string_opt::<i32>() {
                quote_into(&mut out, a.value(row));
            } else if let Some(a) = c.as_primitive_opt::<Int64Type>() {
                out.push_str(&a.value(row).to_string());
            } else if let Some(a) = c.as_primitive_opt::<Float64Type>() {
                out.push_str(&a.value(row).to_string());
            } else if let Some(a) = c.as_boolean_opt() {
                out.push_str(if a.value(row) { "true" } else { "false" });
            } else if let Some(a) = c.as_primitive_opt::<Date32Type>() {
                date_into(&mut out, i64::from(a.value(row)));
            } else if let Some(a) = c.as_primitive_opt::<TimestampMillisecondType>() {
                let local = a.value(row) + BEIJING_MS;
                date_into(&mut out, local.div_euclid(DAY_MS));
                let ms = local.rem_euclid(DAY_MS);
                let s = ms / 1000;
                out.push_str(&format!(
                    " {:02}:{:02}:{:02}",
                    s / 3600,
                    s / 60 % 60,
                    s % 60
                ));
                if ms % 1000 != 0 {
                    out.push_str(&format!(".{:03}", ms % 1000));
                }
            }
        }
        out.push_str("\r\n");
    }
    out
}
