//! CSV (RFC 4180) in blocks. A [`Splitter`] cuts the input into blocks that
//! end at record boundaries, so that blocks can be parsed independently (in
//! parallel), and [`parse_records`] reads a block's records into a table of
//! field positions without copying values. Both notice what lenient readers
//! hide: unterminated quotes at end of input, stray quotes inside fields,
//! and records too large to be real (bounding memory on broken input).
//!
//! A record ends at a line feed outside quotes; a CR directly before the LF
//! that ends a record is dropped, and blank lines are skipped. A quote opens
//! a quoted value only at the start of a value; anywhere else it is a stray
//! quote, which the record reports.

use std::io::{self, BufRead};

use bytes::Bytes;

/// A record larger than this is refused (typically an unterminated quote
/// swallowing the rest of the file).
pub(crate) const MAX_RECORD_BYTES: usize = 16 << 20;
/// Blocks are cut at the first record boundary after this many bytes.
pub(crate) const BLOCK_BYTES: usize = 1 << 20;

/// A run of whole records.
pub(crate) struct Block {
    pub(crate) data: Bytes,
    /// The block ends where the input ends (its last record may lack a line
    /// end, or be unterminated).
    pub(crate) last: bool,
    /// Reading stopped after this block: the next record exceeds
    /// [`MAX_RECORD_BYTES`].
    pub(crate) too_long: bool,
}

/// Cuts a byte stream into [`Block`]s at record boundaries. It tracks only
/// whether it is inside a quoted value, which is all a boundary depends on.
pub(crate) struct Splitter<R> {
    r: R,
    buf: Vec<u8>,
    /// `buf[..done]` holds whole records (and blank lines).
    done: usize,
    /// Where scanning resumes, and whether that is inside a quoted value.
    scan: usize,
    quoted: bool,
    eof: bool,
    finished: bool,
    block_bytes: usize,
}

impl<R: BufRead> Splitter<R> {
    pub(crate) fn new(r: R) -> Self {
        Self::with_block_bytes(r, BLOCK_BYTES)
    }

    pub(crate) fn with_block_bytes(r: R, block_bytes: usize) -> Self {
        Self {
            r,
            buf: Vec::new(),
            done: 0,
            scan: 0,
            quoted: false,
            eof: false,
            finished: false,
            block_bytes: block_bytes.max(1),
        }
    }

    /// The next block; `None` after the last one.
    pub(crate) fn next_block(&mut self) -> io::Result<Option<Block>> {
        if self.finished {
            return Ok(None);
        }
        loop {
            if self.eof {
                self.finished = true;
                return Ok(Some(Block {
                    data: Bytes::from(std::mem::take(&mut self.buf)),
                    last: true,
                    too_long: false,
                }));
            }
            if self.done >= self.block_bytes {
                return Ok(Some(self.cut(false)));
            }
            if self.buf.len() - self.done > MAX_RECORD_BYTES {
                self.finished = true;
                return Ok(Some(self.cut(true)));
            }
            let avail = self.r.fill_buf()?;
            if avail.is_empty() {
                self.eof = true;
                continue;
            }
            let n = avail.len();
            self.buf.extend_from_slice(avail);
            self.r.consume(n);
            self.scan_more();
        }
    }

    /// Emits `buf[..done]`, keeping the rest for the next block.
    fn cut(&mut self, too_long: bool) -> Block {
        let mut next = Vec::with_capacity(self.block_bytes + (self.buf.len() - self.done));
        if !too_long {
            next.extend_from_slice(&self.buf[self.done..]);
        }
        let mut data = std::mem::replace(&mut self.buf, next);
        data.truncate(self.done);
        self.scan -= self.done;
        self.done = 0;
        Block {
            data: Bytes::from(data),
            last: false,
            too_long,
        }
    }

    /// Advances `scan` (and `done`) over newly read bytes.
    fn scan_more(&mut self) {
        let b = &self.buf[..];
        let mut i = self.scan;
        // Fast path: no quote at all, so every line feed ends a record.
        if !self.quoted && memchr::memchr(b'"', &b[i..]).is_none() {
            if let Some(nl) = memchr::memrchr(b'\n', &b[i..]) {
                self.done = i + nl + 1;
            }
            self.scan = b.len();
            return;
        }
        loop {
            if !self.quoted {
                let Some(k) = memchr::memchr2(b'"', b'\n', &b[i..]) else {
                    i = b.len();
                    break;
                };
                let j = i + k;
                if b[j] == b'\n' {
                    self.done = j + 1;
                } else if j == self.done || matches!(b[j - 1], b',' | b'\n') {
                    // A quote at the start of a value opens a quoted value;
                    // elsewhere it is a stray quote (an error in the record,
                    // but no change of state).
                    self.quoted = true;
                }
                i = j + 1;
            } else {
                let Some(k) = memchr::memchr(b'"', &b[i..]) else {
                    i = b.len();
                    break;
                };
                let q = i + k;
                // After a quote inside a quoted value, CRs are skipped; a
                // second quote is an escaped quote, anything else ends the
                // quoted value.
                let mut n = q + 1;
                while n < b.len() && b[n] == b'\r' {
                    n += 1;
                }
                if n == b.len() {
                    // Undecided until more input arrives.
                    i = q;
                    break;
                }
                if b[n] == b'"' {
                    i = n + 1;
                } else {
                    self.quoted = false;
                    i = n;
                }
            }
        }
        self.scan = i;
    }
}

/// The records of a block as field positions.
///
/// A field's value is `data[start..end]` for positions below the block's
/// length; a value that differs from its bytes in the input (one with an
/// escaped quote) is in `unescaped`, at positions shifted by the block's
/// length.
#[derive(Default)]
pub(crate) struct Fields {
    pub(crate) bounds: Vec<(u32, u32)>,
    /// Per record: the index of its first field in `bounds`.
    first: Vec<u32>,
    /// Records (indices) with a stray quote, ascending.
    pub(crate) stray: Vec<u32>,
    pub(crate) unescaped: Vec<u8>,
    /// The block's length (where `unescaped` positions start).
    pub(crate) base: u32,
}

impl Fields {
    fn clear(&mut self, base: usize) {
        self.bounds.clear();
        self.first.clear();
        self.stray.clear();
        self.unescaped.clear();
        self.base = base as u32;
    }

    pub(crate) fn records(&self) -> usize {
        self.first.len()
    }

    /// Indices in `bounds` of record `r`'s fields.
    pub(crate) fn fields(&self, r: usize) -> std::ops::Range<usize> {
        let end = self
            .first
            .get(r + 1)
            .map_or(self.bounds.len(), |&e| e as usize);
        self.first[r] as usize..end
    }

    /// The bytes of field `(start, end)` of a block `data`.
    pub(crate) fn value<'a>(&'a self, data: &'a [u8], (s, e): (u32, u32)) -> &'a [u8] {
        if s < self.base {
            &data[s as usize..e as usize]
        } else {
            &self.unescaped[(s - self.base) as usize..(e - self.base) as usize]
        }
    }

    fn push_record(&mut self, first: usize, stray: bool) {
        if stray {
            self.stray.push(self.first.len() as u32);
        }
        self.first.push(first as u32);
    }
}

/// How reading a block's records ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum End {
    /// Every record was read (or the requested number of them).
    Complete,
    /// The input ends inside a quoted value.
    Unterminated,
    /// The data ends inside a record that the input may continue.
    Incomplete,
}

/// Reads up to `max` records of `data` into `out`; returns how reading
/// ended and the position after the last record read. `at_eof`: `data` ends
/// where the input ends. Blocks must be under 4 GiB (they are at most a few
/// times [`MAX_RECORD_BYTES`]).
pub(crate) fn parse_records(
    data: &[u8],
    at_eof: bool,
    max: usize,
    out: &mut Fields,
) -> (End, usize) {
    out.clear(data.len());
    let n = data.len();
    let mut pos = 0;
    while out.records() < max {
        // Fast path: a whole line without quotes.
        let rest = &data[pos..];
        match memchr::memchr2(b'\n', b'"', rest) {
            Some(k) if rest[k] == b'\n' => {
                let mut line = &rest[..k];
                if let [l @ .., b'\r'] = line {
                    line = l;
                }
                if !line.is_empty() {
                    let first = out.bounds.len();
                    let mut start = 0;
                    for comma in memchr::memchr_iter(b',', line) {
                        out.bounds
                            .push(((pos + start) as u32, (pos + comma) as u32));
                        start = comma + 1;
                    }
                    out.bounds
                        .push(((pos + start) as u32, (pos + line.len()) as u32));
                    out.push_record(first, false);
                }
                pos += k + 1;
                continue;
            }
            None if pos == n => return (End::Complete, pos),
            None if !at_eof => return (End::Incomplete, pos),
            _ => {}
        }
        match slow_record(data, pos, at_eof, out) {
            Step::Record(next) => pos = next,
            Step::Eof => return (End::Complete, n),
            Step::Unterminated => return (End::Unterminated, pos),
            Step::Incomplete => return (End::Incomplete, pos),
        }
    }
    (End::Complete, pos)
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum St {
    FieldStart,
    Unquoted,
    Quoted,
    /// A quote inside a quoted value: either an escaped quote or the end.
    QuoteInQuoted,
}

enum Step {
    Record(usize),
    /// Only blank lines remained before the end of the input.
    Eof,
    Unterminated,
    Incomplete,
}

/// The value of the field being read: `data[start..end]`, or (once it is
/// no longer a contiguous slice of the input) `unescaped[side..]`.
struct Value {
    start: usize,
    end: usize,
    side: Option<usize>,
}

impl Value {
    fn at(p: usize) -> Self {
        Self {
            start: p,
            end: p,
            side: None,
        }
    }

    /// Appends `data[a..b]`.
    fn append(&mut self, data: &[u8], out: &mut Fields, a: usize, b: usize) {
        if a == b {
            return;
        }
        match self.side {
            None if self.end == a => self.end = b,
            None => {
                self.side = Some(out.unescaped.len());
                out.unescaped.extend_from_slice(&data[self.start..self.end]);
                out.unescaped.extend_from_slice(&data[a..b]);
            }
            Some(_) => out.unescaped.extend_from_slice(&data[a..b]),
        }
    }

    fn is_empty(&self, out: &Fields) -> bool {
        match self.side {
            None => self.end == self.start,
            Some(s) => out.unescaped.len() == s,
        }
    }

    /// Drops a CR ending the (non-empty) value.
    fn drop_cr(&mut self, data: &[u8], out: &mut Fields) {
        match self.side {
            None => {
                if self.end > self.start && data[self.end - 1] == b'\r' {
                    self.end -= 1;
                }
            }
            Some(s) => {
                if out.unescaped.len() > s && out.unescaped.last() == Some(&b'\r') {
                    out.unescaped.pop();
                }
            }
        }
    }

    fn end_field(&self, out: &mut Fields) {
        let b = match self.side {
            None => (self.start as u32, self.end as u32),
            Some(s) => (out.base + s as u32, out.base + out.unescaped.len() as u32),
        };
        out.bounds.push(b);
    }
}

/// Reads one record from `data[i..]` with the full state machine (quotes,
/// blank lines, the end of the input).
fn slow_record(data: &[u8], mut i: usize, at_eof: bool, out: &mut Fields) -> Step {
    let n = data.len();
    let first = out.bounds.len();
    let unescaped = out.unescaped.len();
    let mut st = St::FieldStart;
    let mut quoted_any = false;
    let mut stray = false;
    let mut v = Value::at(i);
    let undo = |out: &mut Fields| {
        out.bounds.truncate(first);
        out.unescaped.truncate(unescaped);
    };
    loop {
        if i >= n {
            if !at_eof {
                undo(out);
                return Step::Incomplete;
            }
            return match st {
                St::Quoted => {
                    undo(out);
                    Step::Unterminated
                }
                _ if out.bounds.len() == first && v.is_empty(out) && !quoted_any => {
                    undo(out);
                    Step::Eof
                }
                _ => {
                    if st != St::QuoteInQuoted {
                        v.drop_cr(data, out);
                    }
                    v.end_field(out);
                    out.push_record(first, stray);
                    Step::Record(n)
                }
            };
        }
        match st {
            St::FieldStart | St::Unquoted => {
                let Some(k) = memchr::memchr3(b',', b'\n', b'"', &data[i..]) else {
                    v.append(data, out, i, n);
                    st = St::Unquoted;
                    i = n;
                    continue;
                };
                let j = i + k;
                if j > i {
                    v.append(data, out, i, j);
                    st = St::Unquoted;
                }
                match data[j] {
                    b',' => {
                        v.end_field(out);
                        v = Value::at(j + 1);
                        st = St::FieldStart;
                    }
                    b'\n' => {
                        v.drop_cr(data, out);
                        if out.bounds.len() == first && v.is_empty(out) && !quoted_any {
                            // A blank line: skip it.
                            v = Value::at(j + 1);
                            st = St::FieldStart;
                        } else {
                            v.end_field(out);
                            out.push_record(first, stray);
                            return Step::Record(j + 1);
                        }
                    }
                    _ => {
                        // A quote.
                        if st == St::FieldStart {
                            st = St::Quoted;
                            quoted_any = true;
                            v = Value::at(j + 1);
                        } else {
                            v.append(data, out, j, j + 1);
                            stray = true;
                        }
                    }
                }
                i = j + 1;
            }
            St::Quoted => match memchr::memchr(b'"', &data[i..]) {
                None => {
                    v.append(data, out, i, n);
                    i = n;
                }
                Some(k) => {
                    v.append(data, out, i, i + k);
                    i += k + 1;
                    st = St::QuoteInQuoted;
                }
            },
            St::QuoteInQuoted => {
                match data[i] {
                    b'"' => {
                        v.append(data, out, i, i + 1);
                        st = St::Quoted;
                    }
                    b',' => {
                        v.end_field(out);
                        v = Value::at(i + 1);
                        st = St::FieldStart;
                    }
                    b'\n' => {
                        v.end_field(out);
                        out.push_record(first, stray);
                        return Step::Record(i + 1);
                    }
                    // CR of a CRLF after a closing quote.
                    b'\r' => {}
                    _ => {
                        v.append(data, out, i, i + 1);
                        stray = true;
                        st = St::Unquoted;
                    }
                }
                i += 1;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Records of `data` as strings, with whether each had a stray quote.
    fn records_of(data: &[u8], at_eof: bool) -> (Vec<(Vec<String>, bool)>, End) {
        let mut f = Fields::default();
        let (end, _) = parse_records(data, at_eof, usize::MAX, &mut f);
        let recs = (0..f.records())
            .map(|r| {
                let vals = f
                    .fields(r)
                    .map(|i| String::from_utf8_lossy(f.value(data, f.bounds[i])).into_owned())
                    .collect();
                (vals, f.stray.contains(&(r as u32)))
            })
            .collect();
        (recs, end)
    }

    fn plain(recs: &[(Vec<String>, bool)]) -> Vec<Vec<&str>> {
        recs.iter()
            .map(|(v, _)| v.iter().map(String::as_str).collect())
            .collect()
    }

    #[test]
    fn quoting_newlines_and_line_ends() {
        let (recs, end) = records_of(
            b"a,b\r\n\"x,1\",\"say \"\"hi\"\"\"\n\n\"multi\nline\",\r\nlast,\"\"",
            true,
        );
        assert_eq!(end, End::Complete);
        assert_eq!(
            plain(&recs),
            vec![
                vec!["a", "b"],
                vec!["x,1", "say \"hi\""],
                vec!["multi\nline", ""],
                vec!["last", ""],
            ]
        );
    }

    #[test]
    fn unterminated_and_stray_quotes() {
        let (recs, end) = records_of(b"a,b\n1,\"open\n2,3\n", true);
        assert_eq!(recs.len(), 1);
        assert_eq!(end, End::Unterminated);
        let (recs, _) = records_of(b"a\"b,c\n", true);
        assert!(recs[0].1);
        // Without the end of the input, an open record is incomplete.
        let (recs, end) = records_of(b"a,b\n1,\"open\n2,3\n", false);
        assert_eq!((recs.len(), end), (1, End::Incomplete));
    }

    /// The reader this module replaced, kept as the reference for the
    /// block parser and the splitter: a streaming state machine over a
    /// `BufRead`, one record at a time.
    mod reference {
        use std::io::{self, BufRead};

        #[derive(Debug, PartialEq, Eq)]
        pub(super) enum Outcome {
            Record,
            Eof,
            Unterminated,
        }

        #[derive(Clone, Copy, PartialEq, Eq)]
        enum St {
            FieldStart,
            Unquoted,
            Quoted,
            QuoteInQuoted,
        }

        #[derive(Default)]
        pub(super) struct Record {
            pub(super) buf: Vec<u8>,
            pub(super) starts: Vec<usize>,
            pub(super) ends: Vec<usize>,
            cur_start: usize,
            pub(super) stray_quote: bool,
        }

        impl Record {
            fn end_field(&mut self) {
                self.starts.push(self.cur_start);
                self.ends.push(self.buf.len());
                self.cur_start = self.buf.len();
            }
        }

        pub(super) fn read_record<R: BufRead>(r: &mut R, rec: &mut Record) -> io::Result<Outcome> {
            *rec = Record::default();
            let mut st = St::FieldStart;
            let mut quoted_any = false;
            loop {
                let buf = r.fill_buf()?;
                if buf.is_empty() {
                    return Ok(match st {
                        St::Quoted => Outcome::Unterminated,
                        _ if rec.ends.is_empty() && rec.buf.is_empty() && !quoted_any => {
                            Outcome::Eof
                        }
                        _ => {
                            if st != St::QuoteInQuoted
                                && rec.buf.last() == Some(&b'\r')
                                && rec.buf.len() > rec.cur_start
                            {
                                rec.buf.pop();
                            }
                            rec.end_field();
                            Outcome::Record
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
                                    if rec.buf.last() == Some(&b'\r')
                                        && rec.buf.len() > rec.cur_start
                                    {
                                        rec.buf.pop();
                                    }
                                    if rec.ends.is_empty() && rec.buf.is_empty() && !quoted_any {
                                        st = St::FieldStart;
                                        continue;
                                    }
                                    rec.end_field();
                                    done = true;
                                    break;
                                }
                                _ => {
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
                r.consume(i);
                if done {
                    return Ok(Outcome::Record);
                }
            }
        }
    }

    /// The reference reader's records and how the input ended.
    fn reference_records(data: &[u8]) -> (Vec<(Vec<String>, bool)>, End) {
        let mut r = data;
        let mut rec = reference::Record::default();
        let mut out = Vec::new();
        loop {
            match reference::read_record(&mut r, &mut rec).unwrap() {
                reference::Outcome::Record => out.push((
                    rec.starts
                        .iter()
                        .zip(&rec.ends)
                        .map(|(&s, &e)| String::from_utf8_lossy(&rec.buf[s..e]).into_owned())
                        .collect(),
                    rec.stray_quote,
                )),
                reference::Outcome::Eof => return (out, End::Complete),
                reference::Outcome::Unterminated => return (out, End::Unterminated),
            }
        }
    }

    /// A small deterministic generator (SplitMix64).
    struct Rng(u64);

    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
            let mut z = self.0;
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            z ^ (z >> 31)
        }

        fn below(&mut self, n: usize) -> usize {
            (self.next() % n as u64) as usize
        }
    }

    /// Random inputs heavy in the characters that matter.
    fn random_input(rng: &mut Rng) -> Vec<u8> {
        const PIECES: &[&[u8]] = &[
            b"a",
            b"bc",
            b",",
            b",",
            b"\"",
            b"\"",
            b"\"\"",
            b"\n",
            b"\n",
            b"\r",
            b"\r\n",
            "中".as_bytes(),
        ];
        let len = rng.below(40);
        let mut v = Vec::new();
        for _ in 0..len {
            v.extend_from_slice(PIECES[rng.below(PIECES.len())]);
        }
        v
    }

    /// Blocks of `data` from a splitter reading through a tiny buffer.
    fn split(data: &[u8], cap: usize, block: usize) -> Vec<Block> {
        let mut s = Splitter::with_block_bytes(io::BufReader::with_capacity(cap, data), block);
        let mut out = Vec::new();
        while let Some(b) = s.next_block().unwrap() {
            out.push(b);
        }
        out
    }

    #[test]
    fn the_block_parser_matches_the_reference() {
        let mut rng = Rng(7);
        for _ in 0..20_000 {
            let input = random_input(&mut rng);
            let expected = reference_records(&input);
            assert_eq!(
                records_of(&input, true),
                expected,
                "input {:?}",
                String::from_utf8_lossy(&input)
            );
        }
    }

    #[test]
    fn split_blocks_parse_to_the_same_records() {
        let mut rng = Rng(11);
        for round in 0..20_000 {
            let input = random_input(&mut rng);
            let expected = reference_records(&input);
            let (cap, block) = (1 + round % 7, 1 + round % 5);
            let blocks = split(&input, cap, block);
            let mut got = Vec::new();
            let mut end = End::Complete;
            for b in &blocks {
                assert!(!b.too_long);
                let (recs, e) = records_of(&b.data, b.last);
                // Only the last block may end in an unterminated record;
                // every other block ends at a record boundary.
                if !b.last {
                    assert_eq!(
                        e,
                        End::Complete,
                        "input {:?}",
                        String::from_utf8_lossy(&input)
                    );
                }
                got.extend(recs);
                end = e;
            }
            let joined: Vec<u8> = blocks.iter().flat_map(|b| b.data.to_vec()).collect();
            assert_eq!(joined, input);
            assert!(blocks.last().is_some_and(|b| b.last));
            assert_eq!(
                (got, end),
                expected,
                "input {:?}, cap {cap}, block {block}",
                String::from_utf8_lossy(&input)
            );
        }
    }

    #[test]
    fn quoted_newlines_across_block_boundaries() {
        // Every line holds a quoted value spanning two lines; blocks of a few
        // bytes cut the input inside quotes again and again.
        let mut input = Vec::new();
        for i in 0..200 {
            input.extend_from_slice(format!("{i},\"line\n{i} \"\"quoted\"\"\"\r\n").as_bytes());
        }
        for block in [1, 3, 16, 100] {
            let blocks = split(&input, 5, block);
            assert!(blocks.len() > 1);
            let mut n = 0;
            for b in &blocks {
                let (recs, end) = records_of(&b.data, b.last);
                assert_eq!(end, End::Complete);
                for (vals, stray) in recs {
                    assert!(!stray);
                    assert_eq!(vals, vec![n.to_string(), format!("line\n{n} \"quoted\"")]);
                    n += 1;
                }
            }
            assert_eq!(n, 200);
        }
    }

    #[test]
    fn a_record_too_long_stops_the_splitter() {
        let mut input = b"a,b\n1,2\n3,\"".to_vec();
        input.resize(input.len() + MAX_RECORD_BYTES + 10, b'x');
        let blocks = split(&input, 1 << 16, 4);
        let last = blocks.last().unwrap();
        assert!(last.too_long && !last.last);
        let records: usize = blocks
            .iter()
            .map(|b| records_of(&b.data, b.last).0.len())
            .sum();
        assert_eq!(records, 2);
    }
}
