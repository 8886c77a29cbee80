//! A streaming RFC 4180 CSV record reader that notices what lenient readers
//! hide: unterminated quotes at end of input, stray quotes inside fields,
//! and records too large to be real (bounding memory on broken input).

use std::io::{self, BufRead};

/// A record larger than this is refused (typically an unterminated quote
/// swallowing the rest of the file).
pub(crate) const MAX_RECORD_BYTES: usize = 16 << 20;

/// One record: the unescaped bytes of its fields (possibly with the
/// delimiters between them), and where each field starts and ends.
#[derive(Default)]
pub(crate) struct Record {
    pub(crate) buf: Vec<u8>,
    starts: Vec<usize>,
    pub(crate) ends: Vec<usize>,
    /// Where the field being read starts in `buf`.
    cur_start: usize,
    /// A quote appeared inside an unquoted field or after a closing quote.
    pub(crate) stray_quote: bool,
}

impl Record {
    fn clear(&mut self) {
        self.buf.clear();
        self.starts.clear();
        self.ends.clear();
        self.cur_start = 0;
        self.stray_quote = false;
    }

    fn end_field(&mut self) {
        self.starts.push(self.cur_start);
        self.ends.push(self.buf.len());
        self.cur_start = self.buf.len();
    }

    pub(crate) fn len(&self) -> usize {
        self.ends.len()
    }

    /// The byte range of field `i` in `buf`.
    pub(crate) fn range(&self, i: usize) -> std::ops::Range<usize> {
        self.starts[i]..self.ends[i]
    }
}

#[derive(Debug, PartialEq, Eq)]
pub(crate) enum ReadOutcome {
    Record,
    Eof,
    /// Input ended inside a quoted field.
    Unterminated,
    /// The record exceeds [`MAX_RECORD_BYTES`].
    TooLong,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum St {
    FieldStart,
    Unquoted,
    Quoted,
    /// A quote inside a quoted field: either an escaped quote or the end.
    QuoteInQuoted,
}

pub(crate) struct CsvReader<R> {
    r: R,
}

impl<R: BufRead> CsvReader<R> {
    pub(crate) fn new(r: R) -> Self {
        Self { r }
    }

    /// Reads the next non-blank record into `rec`. Lines end with LF or
    /// CRLF; a CR directly before the LF that ends a record is dropped.
    pub(crate) fn read_record(&mut self, rec: &mut Record) -> io::Result<ReadOutcome> {
        rec.clear();
        // Fast path: a whole line without quotes in the buffer.
        loop {
            let buf = self.r.fill_buf()?;
            let Some(nl) = memchr::memchr(b'\n', buf) else {
                break;
            };
            let mut line = &buf[..nl];
            if memchr::memchr(b'"', line).is_some() {
                break;
            }
            if let [rest @ .., b'\r'] = line {
                line = rest;
            }
            if line.is_empty() {
                // A blank line: skip it.
                self.r.consume(nl + 1);
                continue;
            }
            rec.buf.extend_from_slice(line);
            let mut start = 0;
            for comma in memchr::memchr_iter(b',', line) {
                rec.starts.push(start);
                rec.ends.push(comma);
                start = comma + 1;
            }
            rec.starts.push(start);
            rec.ends.push(line.len());
            self.r.consume(nl + 1);
            return Ok(ReadOutcome::Record);
        }
        let mut st = St::FieldStart;
        let mut quoted_any = false;
        loop {
            let buf = self.r.fill_buf()?;
            if buf.is_empty() {
                return Ok(match st {
                    St::Quoted => ReadOutcome::Unterminated,
                    _ if rec.ends.is_empty() && rec.buf.is_empty() && !quoted_any => {
                        ReadOutcome::Eof
                    }
                    _ => {
                        if st != St::QuoteInQuoted
                            && rec.buf.last() == Some(&b'\r')
                            && rec.buf.len() > rec.cur_start
                        {
                            rec.buf.pop();
                        }
                        rec.end_field();
                        ReadOutcome::Record
                    }
                });
            }
            let n = buf.len();
            let mut i = 0;
            let mut done = false;
            while i < n {
                match st {
                    St::FieldStart | St::Unquoted => {
                        let start = i;
                        while i < n && !matches!(buf[i], b',' | b'\n' | b'"') {
                            i += 1;
                        }
                        if i > start {
                            rec.buf.extend_from_slice(&buf[start..i]);
                            st = St::Unquoted;
                        }
                        if i == n {
                            break;
                        }
                        let b = buf[i];
                        i += 1;
                        match b {
                            b',' => {
                                rec.end_field();
                                st = St::FieldStart;
                            }
                            b'\n' => {
                                if rec.buf.last() == Some(&b'\r') && rec.buf.len() > rec.cur_start {
                                    rec.buf.pop();
                                }
                                if rec.ends.is_empty() && rec.buf.is_empty() && !quoted_any {
                                    // A blank line: skip it.
                                    st = St::FieldStart;
                                    continue;
                                }
                                rec.end_field();
                                done = true;
                                break;
                            }
                            _ => {
                                // A quote.
                                if st == St::FieldStart {
                                    st = St::Quoted;
                                    quoted_any = true;
                                } else {
                                    rec.buf.push(b'"');
                                    rec.stray_quote = true;
                                }
                            }
                        }
                    }
                    St::Quoted => {
                        let start = i;
                        while i < n && buf[i] != b'"' {
                            i += 1;
                        }
                        rec.buf.extend_from_slice(&buf[start..i]);
                        if i < n {
                            i += 1;
                            st = St::QuoteInQuoted;
                        }
                    }
                    St::QuoteInQuoted => {
                        let b = buf[i];
                        i += 1;
                        match b {
                            b'"' => {
                                rec.buf.push(b'"');
                                st = St::Quoted;
                            }
                            b',' => {
                                rec.end_field();
                                st = St::FieldStart;
                            }
                            b'\n' => {
                                rec.end_field();
                                done = true;
                                break;
                            }
                            // CR of a CRLF after a closing quote.
                            b'\r' => {}
                            _ => {
                                rec.buf.push(b);
                                rec.stray_quote = true;
                                st = St::Unquoted;
                            }
                        }
                    }
                }
            }
            self.r.consume(i);
            if done {
                return Ok(ReadOutcome::Record);
            }
            if rec.buf.len() > MAX_RECORD_BYTES {
                return Ok(ReadOutcome::TooLong);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn records(input: &str) -> (Vec<Vec<String>>, ReadOutcome) {
        let mut r = CsvReader::new(input.as_bytes());
        let mut rec = Record::default();
        let mut out = Vec::new();
        loop {
            match r.read_record(&mut rec).unwrap() {
                ReadOutcome::Record => out.push(
                    (0..rec.len())
                        .map(|i| String::from_utf8(rec.buf[rec.range(i)].to_vec()).unwrap())
                        .collect(),
                ),
                end => return (out, end),
            }
        }
    }

    #[test]
    fn quoting_newlines_and_line_ends() {
        let (recs, end) =
            records("a,b\r\n\"x,1\",\"say \"\"hi\"\"\"\n\n\"multi\nline\",\r\nlast,\"\"");
        assert_eq!(end, ReadOutcome::Eof);
        assert_eq!(
            recs,
            vec![
                vec!["a", "b"],
                vec!["x,1", "say \"hi\""],
                vec!["multi\nline", ""],
                vec!["last", ""],
            ]
        );
    }

    #[test]
    fn tiny_buffers_give_the_same_records() {
        let input = "a,b\r\nxx,\"y\ny\"\n\nlong line here,2\nq,\"\"\"\"\r\nend,1";
        let (expected, _) = records(input);
        for cap in 1..12 {
            let mut r = CsvReader::new(std::io::BufReader::with_capacity(cap, input.as_bytes()));
            let mut rec = Record::default();
            let mut got = Vec::new();
            while r.read_record(&mut rec).unwrap() == ReadOutcome::Record {
                got.push(
                    (0..rec.len())
                        .map(|i| String::from_utf8(rec.buf[rec.range(i)].to_vec()).unwrap())
                        .collect::<Vec<_>>(),
                );
            }
            assert_eq!(got, expected, "capacity {cap}");
        }
        assert_eq!(expected.len(), 5);
        assert_eq!(expected[3], vec!["q", "\""]);
    }

    #[test]
    fn unterminated_and_stray_quotes() {
        let (recs, end) = records("a,b\n1,\"open\n2,3\n");
        assert_eq!(recs.len(), 1);
        assert_eq!(end, ReadOutcome::Unterminated);
        let mut r = CsvReader::new("a\"b,c\n".as_bytes());
        let mut rec = Record::default();
        assert_eq!(r.read_record(&mut rec).unwrap(), ReadOutcome::Record);
        assert!(rec.stray_quote);
    }
}
