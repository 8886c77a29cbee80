//! Key uniqueness in bounded memory: each valid row's key values are reduced
//! to an 88-bit hash packed with the row's 40-bit number into 128 bits. The
//! packed entries are collected in runs of [`RUN_ENTRIES`]; a full run is
//! sorted and spilled to a temporary file on a background thread, and at the
//! end of the input the sorted runs are merged. Equal hashes then sit next
//! to each other, lowest row first, so a duplicate can name the row it
//! repeats without storing keys. Runs are cut into [`PARTS`] ranges of hash
//! values; at the end, groups of ranges are read back from every run and
//! merged (by a stable sort, which merges sorted runs) in parallel.
//!
//! Memory is two runs (32 MiB) while reading and, while merging, the last
//! run plus per thread a group of at most half a run with its sort buffer,
//! whatever the number of rows (a single range larger than that, from some
//! 100 million rows or masses of equal keys, is merged streaming instead);
//! disk use is 16 bytes per row beyond the first run. Two different keys share an 88-bit
//! hash with probability about n²/2⁸⁹ (10⁻¹¹ for 100 million rows); such a
//! collision would be reported as a duplicate.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::fs::File;
use std::io::{self, BufReader, Read, Seek, SeekFrom, Write};
use std::path::PathBuf;
use std::sync::mpsc::{SyncSender, sync_channel};
use std::thread::JoinHandle;

use super::value::Cell;

/// Bits of the row number in an entry (rows up to ~1.1 × 10¹²).
const ROW_BITS: u32 = 40;
const ROW_MASK: u128 = (1 << ROW_BITS) - 1;
/// Entries per run: 16 MiB.
const RUN_ENTRIES: usize = 1 << 20;
/// Ranges of hash values (by their top bits) merged independently.
const PART_BITS: u32 = 8;
const PARTS: usize = 1 << PART_BITS;
/// Read buffer while merging.
const MERGE_BUF: usize = 64 << 10;

fn part(e: u128) -> usize {
    (e >> (128 - PART_BITS)) as usize
}

/// The key hashes of an upload's valid rows.
pub(crate) struct KeyLog {
    run: Vec<u128>,
    run_cap: usize,
    spiller: Option<Spiller>,
}

/// The background thread sorting and writing full runs.
struct Spiller {
    tx: SyncSender<Vec<u128>>,
    handle: JoinHandle<io::Result<Spill>>,
}

/// Sorted runs in a temporary file, removed on drop.
struct Spill {
    path: PathBuf,
    /// Per run, where each range starts (in entries from the start of the
    /// file), and where the run ends.
    runs: Vec<[u64; PARTS + 1]>,
}

impl Drop for Spill {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

/// Where each range of a sorted run starts, and its end.
fn bounds(sorted: &[u128], offset: u64) -> [u64; PARTS + 1] {
    let mut b = [0u64; PARTS + 1];
    for (p, x) in b.iter_mut().enumerate() {
        *x = offset + sorted.partition_point(|&e| part(e) < p) as u64;
    }
    b
}

fn spill_thread(rx: std::sync::mpsc::Receiver<Vec<u128>>) -> io::Result<Spill> {
    let path = std::env::temp_dir().join(format!("shuyun-keys-{}.tmp", super::unique_suffix()));
    let mut file = File::options().write(true).create_new(true).open(&path)?;
    let mut spill = Spill {
        path,
        runs: Vec::new(),
    };
    let mut offset = 0u64;
    let mut bytes = Vec::with_capacity(MERGE_BUF);
    for mut run in rx {
        run.sort_unstable();
        spill.runs.push(bounds(&run, offset));
        offset += run.len() as u64;
        for chunk in run.chunks(MERGE_BUF / 16) {
            bytes.clear();
            for e in chunk {
                bytes.extend_from_slice(&e.to_le_bytes());
            }
            file.write_all(&bytes)?;
        }
    }
    Ok(spill)
}

impl KeyLog {
    pub(crate) fn new() -> Self {
        Self::with_run(RUN_ENTRIES)
    }

    fn with_run(run_cap: usize) -> Self {
        Self {
            run: Vec::new(),
            run_cap,
            spiller: None,
        }
    }

    /// Records `hash` (any 128-bit hash; its top 88 bits are used) for `row`.
    pub(crate) fn push(&mut self, hash: u128, row: u64) -> io::Result<()> {
        if self.run.len() == self.run_cap {
            self.spill_run()?;
        }
        self.run
            .push((hash & !ROW_MASK) | (u128::from(row) & ROW_MASK));
        Ok(())
    }

    /// Hands the full run to the spiller (waiting while it still writes
    /// the previous one).
    fn spill_run(&mut self) -> io::Result<()> {
        if self.spiller.is_none() {
            // A rendezvous: at most one run being spilled.
            let (tx, rx) = sync_channel(0);
            let handle = super::spawn("shuyun-ingest-keys", move || spill_thread(rx))?;
            self.spiller = Some(Spiller { tx, handle });
        }
        let Some(spiller) = &self.spiller else {
            return Err(io::Error::other("no key spiller"));
        };
        let run = std::mem::replace(&mut self.run, Vec::with_capacity(self.run_cap));
        if spiller.tx.send(run).is_err() {
            // The spiller stopped: its error comes from joining it.
            self.finish_spill()?;
            return Err(io::Error::other("the key spiller stopped"));
        }
        Ok(())
    }

    fn finish_spill(&mut self) -> io::Result<Option<Spill>> {
        let Some(Spiller { tx, handle }) = self.spiller.take() else {
            return Ok(None);
        };
        drop(tx);
        match handle.join() {
            Ok(r) => r.map(Some),
            Err(_) => Err(io::Error::other("the key spiller failed")),
        }
    }

    /// The duplicates as `(row, first row with the same key)`, in row order;
    /// only the `limit` with the lowest rows are kept.
    pub(crate) fn duplicates(mut self, limit: usize) -> io::Result<Vec<(u64, u64)>> {
        let spill = self.finish_spill()?;
        // The run in memory, cut into ranges.
        let mut counts = [0usize; PARTS + 1];
        for &e in &self.run {
            counts[part(e) + 1] += 1;
        }
        for p in 0..PARTS {
            counts[p + 1] += counts[p];
        }
        let mut mem = vec![0u128; self.run.len()];
        let mut at = counts;
        for &e in &self.run {
            let p = part(e);
            mem[at[p]] = e;
            at[p] += 1;
        }
        drop(std::mem::take(&mut self.run));
        // Consecutive ranges grouped into units of at most half a run (a
        // larger single range is merged streaming).
        let budget = self.run_cap / 2;
        let size = |p: usize| {
            let spilled: u64 = spill
                .iter()
                .flat_map(|s| &s.runs)
                .map(|b| b[p + 1] - b[p])
                .sum();
            spilled as usize + (counts[p + 1] - counts[p])
        };
        let mut units: Vec<(usize, usize, usize)> = Vec::new();
        for p in 0..PARTS {
            let n = size(p);
            match units.last_mut() {
                Some((_, end, total)) if *total + n <= budget => {
                    *end = p + 1;
                    *total += n;
                }
                _ => units.push((p, p + 1, n)),
            }
        }
        let next = std::sync::atomic::AtomicUsize::new(0);
        let (spill, mem, counts, units) = (spill.as_ref(), &mem, &counts, &units);
        let work = || -> io::Result<Found> {
            let mut found = Found::new(limit);
            let mut file = None;
            let mut buf = Vec::new();
            loop {
                let u = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                let Some(&(p0, p1, n)) = units.get(u) else {
                    return Ok(found);
                };
                let mem = &mem[counts[p0]..counts[p1]];
                match spill {
                    Some(spill) if n > budget => {
                        merge_streaming(p0, mem, spill, &mut found)?;
                    }
                    Some(spill) => {
                        let f = match &mut file {
                            Some(f) => f,
                            None => file.insert(File::open(&spill.path)?),
                        };
                        buf.clear();
                        for b in &spill.runs {
                            read_entries(f, b[p0], b[p1], &mut buf)?;
                        }
                        buf.extend_from_slice(mem);
                        // Sorted runs and one unsorted tail: a stable sort
                        // merges the runs rather than sorting from scratch.
                        buf.sort();
                        scan(&buf, &mut found);
                    }
                    None => {
                        buf.clear();
                        buf.extend_from_slice(mem);
                        buf.sort_unstable();
                        scan(&buf, &mut found);
                    }
                }
            }
        };
        let threads = super::threads().min(units.len()).max(1);
        let found = std::thread::scope(|s| {
            let handles = (0..threads)
                .map(|_| {
                    std::thread::Builder::new()
                        .name("shuyun-ingest-keys".into())
                        .spawn_scoped(s, work)
                })
                .collect::<io::Result<Vec<_>>>()?;
            let mut all = Found::new(limit);
            for h in handles {
                let f = h
                    .join()
                    .map_err(|_| io::Error::other("the key check failed"))??;
                for (row, first) in f.heap {
                    all.add(row, first);
                }
            }
            Ok::<_, io::Error>(all)
        })?;
        Ok(found.into_sorted())
    }
}

/// Notes the duplicates in sorted entries.
fn scan(sorted: &[u128], found: &mut Found) {
    let mut first = 0u128;
    for (i, &e) in sorted.iter().enumerate() {
        if i > 0 && first & !ROW_MASK == e & !ROW_MASK {
            found.dup(e, first);
        } else {
            first = e;
        }
    }
}

/// Appends entries `start..end` of the spill file.
fn read_entries(f: &mut File, start: u64, end: u64, out: &mut Vec<u128>) -> io::Result<()> {
    f.seek(SeekFrom::Start(start * 16))?;
    let mut left = end - start;
    let mut bytes = vec![0u8; MERGE_BUF];
    while left > 0 {
        let n = left.min((MERGE_BUF / 16) as u64) as usize;
        f.read_exact(&mut bytes[..n * 16])?;
        out.extend(bytes[..n * 16].chunks_exact(16).map(|c| {
            let mut b = [0u8; 16];
            b.copy_from_slice(c);
            u128::from_le_bytes(b)
        }));
        left -= n as u64;
    }
    Ok(())
}

/// Merges range `p` of every spilled run with `mem` (the range's entries
/// still in memory) in a streaming k-way merge, noting duplicates.
fn merge_streaming(p: usize, mem: &[u128], spill: &Spill, found: &mut Found) -> io::Result<()> {
    let mut mem = mem.to_vec();
    mem.sort_unstable();
    let mut first: Option<u128> = None;
    let mut see = |e: u128| match first {
        Some(f) if f & !ROW_MASK == e & !ROW_MASK => found.dup(e, f),
        _ => first = Some(e),
    };
    let mut sources: Vec<Source> = Vec::with_capacity(spill.runs.len() + 1);
    for b in &spill.runs {
        let (start, end) = (b[p], b[p + 1]);
        if start < end {
            let mut f = File::open(&spill.path)?;
            f.seek(SeekFrom::Start(start * 16))?;
            sources.push(Source::File {
                r: BufReader::with_capacity(MERGE_BUF, f),
                left: end - start,
            });
        }
    }
    sources.push(Source::Mem { v: &mem, at: 0 });
    let mut heap = BinaryHeap::with_capacity(sources.len());
    for (i, s) in sources.iter_mut().enumerate() {
        if let Some(e) = s.next()? {
            heap.push(Reverse((e, i)));
        }
    }
    while let Some(Reverse((e, i))) = heap.pop() {
        see(e);
        if let Some(n) = sources[i].next()? {
            heap.push(Reverse((n, i)));
        }
    }
    Ok(())
}

/// One sorted run (range) being merged.
enum Source<'a> {
    File { r: BufReader<File>, left: u64 },
    Mem { v: &'a [u128], at: usize },
}

impl Source<'_> {
    fn next(&mut self) -> io::Result<Option<u128>> {
        match self {
            Source::File { r, left } => {
                if *left == 0 {
                    return Ok(None);
                }
                *left -= 1;
                let mut b = [0u8; 16];
                r.read_exact(&mut b)?;
                Ok(Some(u128::from_le_bytes(b)))
            }
            Source::Mem { v, at } => {
                let e = v.get(*at).copied();
                *at += 1;
                Ok(e)
            }
        }
    }
}

/// Duplicates found, keeping those with the lowest rows.
struct Found {
    limit: usize,
    /// (row, first row), a max-heap on row.
    heap: BinaryHeap<(u64, u64)>,
}

impl Found {
    fn new(limit: usize) -> Self {
        Self {
            limit,
            heap: BinaryHeap::new(),
        }
    }

    fn dup(&mut self, entry: u128, first: u128) {
        self.add((entry & ROW_MASK) as u64, (first & ROW_MASK) as u64);
    }

    fn add(&mut self, row: u64, first: u64) {
        if self.heap.len() < self.limit {
            self.heap.push((row, first));
        } else if self.heap.peek().is_some_and(|&(top, _)| row < top) {
            self.heap.pop();
            self.heap.push((row, first));
        }
    }

    fn into_sorted(self) -> Vec<(u64, u64)> {
        let mut v = self.heap.into_vec();
        v.sort_unstable();
        v
    }
}

/// A fast seeded 128-bit hash of a row's key values (not adversarially
/// robust: a crafted collision could only get the uploader's own file
/// rejected).
#[derive(Clone, Copy)]
pub(crate) struct KeyHasher {
    a: u64,
    b: u64,
}

const K1: u64 = 0x9E37_79B9_7F4A_7C15;
const K2: u64 = 0xC2B2_AE3D_27D4_EB4F;

fn fmix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

impl KeyHasher {
    pub(crate) fn new(seed: (u64, u64)) -> Self {
        Self {
            a: seed.0,
            b: seed.1,
        }
    }

    pub(crate) fn word(&mut self, w: u64) {
        self.a = (self.a ^ w).wrapping_mul(K1).rotate_left(29);
        self.b = (self.b ^ w.rotate_left(17))
            .wrapping_mul(K2)
            .rotate_left(31);
    }

    pub(crate) fn bytes(&mut self, s: &[u8]) {
        let mut chunks = s.chunks_exact(8);
        for c in &mut chunks {
            let mut w = [0u8; 8];
            w.copy_from_slice(c);
            self.word(u64::from_le_bytes(w));
        }
        let rest = chunks.remainder();
        let mut w = [0u8; 8];
        w[..rest.len()].copy_from_slice(rest);
        self.word(u64::from_le_bytes(w));
        self.word(s.len() as u64);
    }

    pub(crate) fn finish(&self) -> u128 {
        let a = fmix(self.a ^ self.b.rotate_left(23));
        let b = fmix(self.b ^ a);
        (u128::from(a) << 64) | u128::from(b)
    }
}

/// Feeds one converted key value to a row's hasher.
pub(crate) fn hash_cell(c: &Cell<'_>, h: &mut KeyHasher) {
    match c {
        Cell::Null | Cell::Bad(_) => h.word(0),
        Cell::Str(s) => {
            h.word(1);
            h.bytes(s.as_bytes());
        }
        Cell::I64(v) => {
            h.word(2);
            h.word(*v as u64);
        }
        Cell::F64(v) => {
            h.word(3);
            h.word(v.to_bits());
        }
        Cell::Bool(v) => {
            h.word(4);
            h.word(u64::from(*v));
        }
        Cell::Date(v) => {
            h.word(5);
            h.word(*v as u64);
        }
        Cell::TsMs(v) => {
            h.word(6);
            h.word(*v as u64);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h(i: u64) -> u128 {
        let mut x = KeyHasher::new((1, 2));
        x.bytes(format!("key-{i}").as_bytes());
        x.finish()
    }

    #[test]
    fn finds_duplicates_in_memory() {
        let mut k = KeyLog::new();
        for i in 1..=100_000u64 {
            k.push(h(i), i).unwrap();
        }
        k.push(h(77), 100_001).unwrap();
        k.push(h(100_000), 100_002).unwrap();
        k.push(h(77), 100_003).unwrap();
        assert_eq!(
            k.duplicates(10).unwrap(),
            vec![(100_001, 77), (100_002, 100_000), (100_003, 77)]
        );
    }

    #[test]
    fn finds_duplicates_across_spilled_runs() {
        // Runs of 1000 entries: 100 runs on disk and one in memory.
        let mut k = KeyLog::with_run(1000);
        for i in 1..=100_500u64 {
            k.push(h(i), i).unwrap();
        }
        k.push(h(77), 100_501).unwrap();
        k.push(h(100_000), 100_502).unwrap();
        k.push(h(77), 100_503).unwrap();
        assert!(k.spiller.is_some());
        assert_eq!(
            k.duplicates(10).unwrap(),
            vec![(100_501, 77), (100_502, 100_000), (100_503, 77)]
        );
    }

    #[test]
    fn keeps_the_lowest_duplicates() {
        for run in [5, 1 << 20] {
            let mut k = KeyLog::with_run(run);
            for i in 1..=50u64 {
                k.push(h(0), i).unwrap();
            }
            let d = k.duplicates(3).unwrap();
            assert_eq!(d, vec![(2, 1), (3, 1), (4, 1)], "run {run}");
        }
        assert!(KeyLog::new().duplicates(3).unwrap().is_empty());
    }
}
