//! The hidden functions of the output checks: a keyed 64-bit digest of a
//! unit (person or enterprise), and two aggregates over those digests —
//! the distinct units of a cell ([`units_udaf`]) and each unit's
//! contribution to a cell ([`contributions_udaf`]), either summarised as
//! the cell's magnitude (total, largest, second largest) for the dominance
//! and p% rules, or as a bounded sum for differential privacy.
//!
//! None of them is in the session's registry: only the minimum-count
//! rewrite (`kcheck.rs`) puts them in a plan. Their state is a hash set
//! (or map) of 64-bit digests per group; rows are never copied.

use std::collections::{HashMap, HashSet};
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::Arc;

use datafusion::arrow::array::{
    Array, ArrayRef, AsArray, BinaryBuilder, BooleanArray, Float64Array, Float64Builder, ListArray,
    ListBuilder, StructArray, UInt64Array, UInt64Builder,
};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{DataType, Field, FieldRef, Fields, Float64Type, UInt64Type};
use datafusion::common::{Result, ScalarValue, exec_err};
use datafusion::logical_expr::function::{AccumulatorArgs, StateFieldsArgs};
use datafusion::logical_expr::utils::format_state_name;
use datafusion::logical_expr::{
    Accumulator, AggregateUDF, AggregateUDFImpl, ColumnarValue, EmitTo, GroupsAccumulator,
    ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature, Volatility,
};
use shuyun_domain::workspace::{SketchBank, UnitDigestKey, UnitSketch, unit_digest};

/// The name of the digest function in plans.
pub const DIGEST_FN: &str = "shuyun_unit_digest";
/// The name of the same digest of a raw value below the guard's masks.
pub const RAW_DIGEST_FN: &str = "shuyun_raw_unit_digest";
/// The name of the distinct-units aggregate in plans.
pub const UNITS_FN: &str = "shuyun_units";
/// The name of the contributions aggregate in plans.
pub const CONTRIB_FN: &str = "shuyun_contributions";
/// The name of the row-value magnitude aggregate in plans.
pub const MAGNITUDE_FN: &str = "shuyun_magnitude";
/// The name of the sketch aggregate in plans.
pub const SKETCH_FN: &str = "shuyun_sketch";

/// Digests are already uniform: hash sets of them hash by identity.
#[derive(Default)]
struct Identity(u64);

impl Hasher for Identity {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(*b);
        }
    }
    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }
}

type ById = BuildHasherDefault<Identity>;
type Set = HashSet<u64, ById>;
type Map = HashMap<u64, f64, ById>;

// ---- The digest -------------------------------------------------------------

/// A unit's digest under the agreement: the agreement's keyed bijection
/// ([`unit_digest::for_agreement`]) of its stored digest (SipHash-1-3 under
/// the platform's unit digest key). The same unit has the same digest in
/// every table and query of the agreement, whether the digest was stored
/// at ingest or computed here, and digests mean nothing outside it.
#[derive(Debug, PartialEq, Eq, Hash)]
struct Digest {
    agreement: (u64, u64),
    platform: UnitDigestKey,
    kind: DigestKind,
    signature: Signature,
}

/// What a digest function reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum DigestKind {
    /// A visible unit value.
    Value,
    /// A raw value directly above a scan, where the guard's mask reuses
    /// the raw field's name for its pseudonym. Its function is declared
    /// volatile so that the optimizer never moves it above the mask (where
    /// the name means the pseudonym); its values are the same.
    Raw,
}

/// The digest function of `kind` under the agreement's digest keys and
/// the platform's unit digest key.
pub(crate) fn digest_udf(
    agreement: (u64, u64),
    platform: UnitDigestKey,
    kind: DigestKind,
) -> Arc<ScalarUDF> {
    let volatility = match kind {
        DigestKind::Raw => Volatility::Volatile,
        DigestKind::Value => Volatility::Immutable,
    };
    Arc::new(ScalarUDF::from(Digest {
        agreement,
        platform,
        kind,
        signature: Signature::any(1, volatility),
    }))
}

impl Digest {
    fn hash(&self, bytes: &[u8]) -> u64 {
        unit_digest::for_agreement(self.platform.bytes(bytes), self.agreement)
    }

    fn hash_int(&self, v: i64) -> u64 {
        unit_digest::for_agreement(self.platform.int(v), self.agreement)
    }

    fn digests(&self, a: &ArrayRef) -> Result<UInt64Array> {
        let mut out = UInt64Builder::with_capacity(a.len());
        macro_rules! ints {
            ($t:ty) => {{
                for v in a.as_primitive::<$t>().iter() {
                    out.append_option(v.map(|v| self.hash_int(i64::from(v))));
                }
            }};
        }
        use datafusion::arrow::datatypes as t;
        match a.data_type() {
            DataType::Utf8 => {
                for v in a.as_string::<i32>().iter() {
                    out.append_option(v.map(|v| self.hash(v.as_bytes())));
                }
            }
            DataType::LargeUtf8 => {
                for v in a.as_string::<i64>().iter() {
                    out.append_option(v.map(|v| self.hash(v.as_bytes())));
                }
            }
            DataType::Utf8View => {
                for v in a.as_string_view().iter() {
                    out.append_option(v.map(|v| self.hash(v.as_bytes())));
                }
            }
            DataType::Int8 => ints!(t::Int8Type),
            DataType::Int16 => ints!(t::Int16Type),
            DataType::Int32 => ints!(t::Int32Type),
            DataType::Int64 => ints!(t::Int64Type),
            DataType::UInt8 => ints!(t::UInt8Type),
            DataType::UInt16 => ints!(t::UInt16Type),
            DataType::UInt32 => ints!(t::UInt32Type),
            DataType::Date32 => ints!(t::Date32Type),
            DataType::Date64 => ints!(t::Date64Type),
            DataType::UInt64 => {
                for v in a.as_primitive::<UInt64Type>().iter() {
                    out.append_option(v.map(|v| self.hash(&v.to_le_bytes())));
                }
            }
            _ => return self.digests(&cast(a, &DataType::Utf8)?),
        }
        Ok(out.finish())
    }
}

impl ScalarUDFImpl for Digest {
    fn name(&self) -> &str {
        match self.kind {
            DigestKind::Value => DIGEST_FN,
            DigestKind::Raw => RAW_DIGEST_FN,
        }
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(DataType::UInt64)
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let [arg] = args.args.as_slice() else {
            return exec_err!("{DIGEST_FN} takes one argument");
        };
        let a = arg.to_array(args.number_rows)?;
        Ok(ColumnarValue::Array(Arc::new(self.digests(&a)?)))
    }
}

// ---- Shared helpers ---------------------------------------------------------

/// A stored digest is missing: never a unit left out of the checks.
fn damaged() -> datafusion::error::DataFusionError {
    datafusion::error::DataFusionError::Execution(
        "a row has no stored unit digest: the data version is damaged, \
         ask the data administrator to load it again"
            .to_string(),
    )
}

fn item(t: DataType) -> FieldRef {
    Arc::new(Field::new_list_field(t, true))
}

fn list_of(t: DataType) -> DataType {
    DataType::List(item(t))
}

/// Whether row `r` passes the aggregate's `FILTER`.
fn passes(filter: Option<&BooleanArray>, r: usize) -> bool {
    filter.is_none_or(|f| f.is_valid(r) && f.value(r))
}

/// A groups accumulator that can be given its groups up front.
trait Groups: GroupsAccumulator + Sync + std::fmt::Debug {
    fn ensure(&mut self, groups: usize);

    /// Add a batch whose rows all go to group 0 (`zeros`: at least one 0
    /// per row).
    fn update_one(&mut self, values: &[ArrayRef], zeros: &[usize]) -> Result<()> {
        let n = values.first().map_or(0, |v| v.len());
        self.update_batch(values, &zeros[..n], None, 1)
    }
}

impl Groups for UnitsGroups {
    fn ensure(&mut self, groups: usize) {
        if self.sets.len() < groups {
            self.sets.resize_with(groups, Set::default);
        }
    }
}

impl Groups for ContribGroups {
    fn ensure(&mut self, groups: usize) {
        if self.maps.len() < groups {
            self.maps.resize_with(groups, Map::default);
        }
    }
}

/// A single-group accumulator over a groups accumulator (aggregates
/// without `GROUP BY`), with the group indices of a batch kept from one
/// batch to the next.
#[derive(Debug)]
struct Single<G>(G, Vec<usize>);

impl<G> Single<G> {
    fn new(groups: G) -> Self {
        Self(groups, Vec::new())
    }

    /// The groups, and `n` zero group indices.
    fn parts(&mut self, n: usize) -> (&mut G, &[usize]) {
        if self.1.len() < n {
            self.1.resize(n, 0);
        }
        (&mut self.0, &self.1[..n])
    }
}

impl<G: Groups> Accumulator for Single<G> {
    fn update_batch(&mut self, values: &[ArrayRef]) -> Result<()> {
        let (groups, zeros) = self.parts(values.first().map_or(0, |v| v.len()));
        groups.update_one(values, zeros)
    }

    fn evaluate(&mut self) -> Result<ScalarValue> {
        self.0.ensure(1);
        let a = self.0.evaluate(EmitTo::All)?;
        ScalarValue::try_from_array(&a, 0)
    }

    fn size(&self) -> usize {
        self.0.size()
    }

    fn state(&mut self) -> Result<Vec<ScalarValue>> {
        self.0.ensure(1);
        self.0
            .state(EmitTo::All)?
            .iter()
            .map(|a| ScalarValue::try_from_array(a, 0))
            .collect()
    }

    fn merge_batch(&mut self, states: &[ArrayRef]) -> Result<()> {
        let (groups, zeros) = self.parts(states.first().map_or(0, |v| v.len()));
        groups.merge_batch(states, zeros, 1)
    }
}

// ---- Distinct units ---------------------------------------------------------

/// `shuyun_units(digest)`: the distinct units of a cell — their number
/// (`UInt64`), or with `digests` their sorted digests (`List<UInt64>`).
/// With a `cap`, a cell keeps at most `cap` digests: its number is exact
/// below the cap and "at least `cap`" at it, which is all the
/// minimum-count rule needs (the cap is at least k), at a fraction of the
/// memory and time of large cells.
#[derive(Debug, PartialEq, Eq, Hash)]
struct Units {
    digests: bool,
    cap: Option<usize>,
    signature: Signature,
}

pub(crate) fn units_udaf(digests: bool, cap: Option<usize>) -> Arc<AggregateUDF> {
    Arc::new(AggregateUDF::from(Units {
        digests,
        cap: if digests { None } else { cap },
        signature: Signature::exact(vec![DataType::UInt64], Volatility::Immutable),
    }))
}

impl AggregateUDFImpl for Units {
    fn name(&self) -> &str {
        UNITS_FN
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(if self.digests {
            list_of(DataType::UInt64)
        } else {
            DataType::UInt64
        })
    }

    fn accumulator(&self, _args: AccumulatorArgs) -> Result<Box<dyn Accumulator>> {
        Ok(Box::new(Single::new(UnitsGroups::new(
            self.digests,
            self.cap,
        ))))
    }

    fn state_fields(&self, args: StateFieldsArgs) -> Result<Vec<FieldRef>> {
        Ok(vec![Arc::new(Field::new(
            format_state_name(args.name, "digests"),
            list_of(DataType::UInt64),
            true,
        ))])
    }

    fn groups_accumulator_supported(&self, _args: AccumulatorArgs) -> bool {
        true
    }

    fn create_groups_accumulator(
        &self,
        _args: AccumulatorArgs,
    ) -> Result<Box<dyn GroupsAccumulator>> {
        Ok(Box::new(UnitsGroups::new(self.digests, self.cap)))
    }
}

#[derive(Debug)]
struct UnitsGroups {
    digests: bool,
    cap: usize,
    sets: Vec<Set>,
    entries: usize,
}

impl UnitsGroups {
    fn new(digests: bool, cap: Option<usize>) -> Self {
        Self {
            digests,
            cap: cap.unwrap_or(usize::MAX),
            sets: Vec::new(),
            entries: 0,
        }
    }

    fn insert(&mut self, g: usize, d: u64) {
        let set = &mut self.sets[g];
        if set.len() < self.cap && set.insert(d) {
            self.entries += 1;
        }
    }

    fn lists(sets: &[Set], sorted: bool) -> ListArray {
        let n: usize = sets.iter().map(|s| s.len()).sum();
        let mut b = ListBuilder::with_capacity(UInt64Builder::with_capacity(n), sets.len());
        let mut buf = Vec::new();
        for s in sets {
            buf.clear();
            buf.extend(s.iter().copied());
            if sorted {
                buf.sort_unstable();
            }
            b.values().append_slice(&buf);
            b.append(true);
        }
        b.finish()
    }
}

impl GroupsAccumulator for UnitsGroups {
    fn update_batch(
        &mut self,
        values: &[ArrayRef],
        group_indices: &[usize],
        opt_filter: Option<&BooleanArray>,
        total_num_groups: usize,
    ) -> Result<()> {
        self.sets.resize_with(total_num_groups, Set::default);
        let Some(d) = values.first() else {
            return exec_err!("{UNITS_FN} takes one argument");
        };
        let d = d.as_primitive::<UInt64Type>();
        if d.null_count() == 0 && opt_filter.is_none() {
            for (v, g) in d.values().iter().zip(group_indices) {
                self.insert(*g, *v);
            }
        } else {
            for (r, g) in group_indices.iter().enumerate() {
                if d.is_valid(r) && passes(opt_filter, r) {
                    self.insert(*g, d.value(r));
                }
            }
        }
        Ok(())
    }

    fn evaluate(&mut self, emit_to: EmitTo) -> Result<ArrayRef> {
        let sets = emit_to.take_needed(&mut self.sets);
        self.entries -= sets.iter().map(|s| s.len()).sum::<usize>();
        Ok(if self.digests {
            Arc::new(Self::lists(&sets, true))
        } else {
            Arc::new(UInt64Array::from_iter_values(
                sets.iter().map(|s| s.len() as u64),
            ))
        })
    }

    fn state(&mut self, emit_to: EmitTo) -> Result<Vec<ArrayRef>> {
        let sets = emit_to.take_needed(&mut self.sets);
        self.entries -= sets.iter().map(|s| s.len()).sum::<usize>();
        Ok(vec![Arc::new(Self::lists(&sets, false))])
    }

    fn merge_batch(
        &mut self,
        values: &[ArrayRef],
        group_indices: &[usize],
        total_num_groups: usize,
    ) -> Result<()> {
        self.sets.resize_with(total_num_groups, Set::default);
        let Some(l) = values.first() else {
            return exec_err!("{UNITS_FN} state is one list");
        };
        let l = l.as_list::<i32>();
        for (r, g) in group_indices.iter().enumerate() {
            if l.is_null(r) {
                continue;
            }
            let v = l.value(r);
            for d in v.as_primitive::<UInt64Type>().values() {
                self.insert(*g, *d);
            }
        }
        Ok(())
    }

    fn convert_to_state(
        &self,
        _values: &[ArrayRef],
        _opt_filter: Option<&BooleanArray>,
    ) -> Result<Vec<ArrayRef>> {
        datafusion::common::not_impl_err!("{} has no row-wise state", UNITS_FN)
    }

    fn size(&self) -> usize {
        self.sets.capacity() * std::mem::size_of::<Set>() + self.entries * 16
    }
}

// ---- Contributions ----------------------------------------------------------

/// What [`contributions_udaf`] makes of each cell's map unit → sum of its
/// values in the cell.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Summary {
    /// `{total, top1, top2}` of the absolute contributions (`Struct`).
    Magnitude,
    /// Σ clamp(contribution, lo, hi) (`Float64`); bounds as `f64` bits.
    Bounded { lo: u64, hi: u64 },
}

impl Summary {
    pub fn bounded(lo: f64, hi: f64) -> Self {
        Summary::Bounded {
            lo: lo.to_bits(),
            hi: hi.to_bits(),
        }
    }
}

/// The fields of a magnitude.
pub(crate) fn magnitude_fields() -> Fields {
    Fields::from(vec![
        Field::new("total", DataType::Float64, false),
        Field::new("top1", DataType::Float64, false),
        Field::new("top2", DataType::Float64, false),
    ])
}

/// `shuyun_contributions(digest, value)`: per cell, each unit's sum of
/// `value`, summarised as [`Summary`] says.
#[derive(Debug, PartialEq, Eq, Hash)]
struct Contributions {
    summary: Summary,
    signature: Signature,
}

pub(crate) fn contributions_udaf(summary: Summary) -> Arc<AggregateUDF> {
    Arc::new(AggregateUDF::from(Contributions {
        summary,
        signature: Signature::exact(
            vec![DataType::UInt64, DataType::Float64],
            Volatility::Immutable,
        ),
    }))
}

impl AggregateUDFImpl for Contributions {
    fn name(&self) -> &str {
        CONTRIB_FN
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(match self.summary {
            Summary::Magnitude => DataType::Struct(magnitude_fields()),
            Summary::Bounded { .. } => DataType::Float64,
        })
    }

    fn accumulator(&self, _args: AccumulatorArgs) -> Result<Box<dyn Accumulator>> {
        Ok(Box::new(Single::new(ContribGroups::new(self.summary))))
    }

    fn state_fields(&self, args: StateFieldsArgs) -> Result<Vec<FieldRef>> {
        Ok(vec![
            Arc::new(Field::new(
                format_state_name(args.name, "units"),
                list_of(DataType::UInt64),
                true,
            )),
            Arc::new(Field::new(
                format_state_name(args.name, "sums"),
                list_of(DataType::Float64),
                true,
            )),
        ])
    }

    fn groups_accumulator_supported(&self, _args: AccumulatorArgs) -> bool {
        true
    }

    fn create_groups_accumulator(
        &self,
        _args: AccumulatorArgs,
    ) -> Result<Box<dyn GroupsAccumulator>> {
        Ok(Box::new(ContribGroups::new(self.summary)))
    }
}

#[derive(Debug)]
struct ContribGroups {
    summary: Summary,
    maps: Vec<Map>,
    entries: usize,
}

impl ContribGroups {
    fn new(summary: Summary) -> Self {
        Self {
            summary,
            maps: Vec::new(),
            entries: 0,
        }
    }

    fn add(&mut self, g: usize, unit: u64, v: f64) {
        let e = self.maps[g].entry(unit).or_insert_with(|| {
            self.entries += 1;
            0.0
        });
        *e += v;
    }

    fn take(&mut self, emit_to: EmitTo) -> Vec<Map> {
        let maps = emit_to.take_needed(&mut self.maps);
        self.entries -= maps.iter().map(|m| m.len()).sum::<usize>();
        maps
    }
}

/// Add `v` to a cell's `[total, top1, top2]` of magnitudes.
#[inline]
fn add_magnitude(m: &mut [f64; 3], v: f64) {
    let a = v.abs();
    m[0] += a;
    // Most values are not among the two largest: one comparison.
    if a > m[2] {
        keep_top2(m, a);
    }
}

/// Keep `a` among the two largest of `[_, top1, top2]`.
fn keep_top2(m: &mut [f64; 3], a: f64) {
    if a > m[1] {
        m[2] = m[1];
        m[1] = a;
    } else if a > m[2] {
        m[2] = a;
    }
}

/// Total, largest and second largest of the absolute contributions.
pub(crate) fn magnitude_of(contributions: impl Iterator<Item = f64>) -> (f64, f64, f64) {
    let mut m = [0.0f64; 3];
    for c in contributions {
        add_magnitude(&mut m, c);
    }
    (m[0], m[1], m[2])
}

impl GroupsAccumulator for ContribGroups {
    fn update_batch(
        &mut self,
        values: &[ArrayRef],
        group_indices: &[usize],
        opt_filter: Option<&BooleanArray>,
        total_num_groups: usize,
    ) -> Result<()> {
        self.maps.resize_with(total_num_groups, Map::default);
        let [d, v] = values else {
            return exec_err!("{CONTRIB_FN} takes two arguments");
        };
        let d = d.as_primitive::<UInt64Type>();
        let v = v.as_primitive::<Float64Type>();
        if d.null_count() == 0 && v.null_count() == 0 && opt_filter.is_none() {
            for ((u, x), g) in d.values().iter().zip(v.values()).zip(group_indices) {
                self.add(*g, *u, *x);
            }
        } else {
            for (r, g) in group_indices.iter().enumerate() {
                if d.is_valid(r) && v.is_valid(r) && passes(opt_filter, r) {
                    self.add(*g, d.value(r), v.value(r));
                }
            }
        }
        Ok(())
    }

    fn evaluate(&mut self, emit_to: EmitTo) -> Result<ArrayRef> {
        let maps = self.take(emit_to);
        Ok(match self.summary {
            Summary::Magnitude => {
                let mut t = Float64Builder::with_capacity(maps.len());
                let mut a = Float64Builder::with_capacity(maps.len());
                let mut b = Float64Builder::with_capacity(maps.len());
                for m in &maps {
                    let (total, top1, top2) = magnitude_of(m.values().copied());
                    t.append_value(total);
                    a.append_value(top1);
                    b.append_value(top2);
                }
                Arc::new(StructArray::new(
                    magnitude_fields(),
                    vec![
                        Arc::new(t.finish()) as ArrayRef,
                        Arc::new(a.finish()),
                        Arc::new(b.finish()),
                    ],
                    None,
                ))
            }
            Summary::Bounded { lo, hi } => {
                let (lo, hi) = (f64::from_bits(lo), f64::from_bits(hi));
                Arc::new(Float64Array::from_iter_values(maps.iter().map(|m| {
                    m.values()
                        .map(|c| shuyun_domain::workspace::privacy::clamp(*c, lo, hi))
                        .sum::<f64>()
                })))
            }
        })
    }

    fn state(&mut self, emit_to: EmitTo) -> Result<Vec<ArrayRef>> {
        let maps = self.take(emit_to);
        let n: usize = maps.iter().map(|m| m.len()).sum();
        let mut k = ListBuilder::with_capacity(UInt64Builder::with_capacity(n), maps.len());
        let mut s = ListBuilder::with_capacity(Float64Builder::with_capacity(n), maps.len());
        for m in &maps {
            for (u, c) in m {
                k.values().append_value(*u);
                s.values().append_value(*c);
            }
            k.append(true);
            s.append(true);
        }
        Ok(vec![Arc::new(k.finish()), Arc::new(s.finish())])
    }

    fn merge_batch(
        &mut self,
        values: &[ArrayRef],
        group_indices: &[usize],
        total_num_groups: usize,
    ) -> Result<()> {
        self.maps.resize_with(total_num_groups, Map::default);
        let [k, s] = values else {
            return exec_err!("{CONTRIB_FN} state is two lists");
        };
        let (k, s) = (k.as_list::<i32>(), s.as_list::<i32>());
        for (r, g) in group_indices.iter().enumerate() {
            if k.is_null(r) || s.is_null(r) {
                continue;
            }
            let (ku, sv) = (k.value(r), s.value(r));
            for (u, c) in ku
                .as_primitive::<UInt64Type>()
                .values()
                .iter()
                .zip(sv.as_primitive::<Float64Type>().values())
            {
                self.add(*g, *u, *c);
            }
        }
        Ok(())
    }

    fn convert_to_state(
        &self,
        _values: &[ArrayRef],
        _opt_filter: Option<&BooleanArray>,
    ) -> Result<Vec<ArrayRef>> {
        datafusion::common::not_impl_err!("{} has no row-wise state", CONTRIB_FN)
    }

    fn size(&self) -> usize {
        self.maps.capacity() * std::mem::size_of::<Map>() + self.entries * 24
    }
}

// ---- Magnitude of row values -------------------------------------------------

/// `shuyun_magnitude(value)`: a cell's magnitude (total, largest, second
/// largest of the absolute values) when each of its rows is a different
/// unit, so that a unit's contribution is its row's value. Same result as
/// [`contributions_udaf`] with [`Summary::Magnitude`] in that case, with
/// three numbers of state per cell instead of a map of its units.
#[derive(Debug, PartialEq, Eq, Hash)]
struct RowMagnitude {
    signature: Signature,
}

pub(crate) fn magnitude_udaf() -> Arc<AggregateUDF> {
    Arc::new(AggregateUDF::from(RowMagnitude {
        signature: Signature::exact(vec![DataType::Float64], Volatility::Immutable),
    }))
}

impl AggregateUDFImpl for RowMagnitude {
    fn name(&self) -> &str {
        MAGNITUDE_FN
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(DataType::Struct(magnitude_fields()))
    }

    fn accumulator(&self, _args: AccumulatorArgs) -> Result<Box<dyn Accumulator>> {
        Ok(Box::new(Single::new(MagnitudeGroups::default())))
    }

    fn state_fields(&self, args: StateFieldsArgs) -> Result<Vec<FieldRef>> {
        Ok(["total", "top1", "top2"]
            .iter()
            .map(|n| {
                Arc::new(Field::new(
                    format_state_name(args.name, n),
                    DataType::Float64,
                    false,
                ))
            })
            .collect())
    }

    fn groups_accumulator_supported(&self, _args: AccumulatorArgs) -> bool {
        true
    }

    fn create_groups_accumulator(
        &self,
        _args: AccumulatorArgs,
    ) -> Result<Box<dyn GroupsAccumulator>> {
        Ok(Box::new(MagnitudeGroups::default()))
    }
}

/// Per group: total, largest and second largest absolute value.
#[derive(Debug, Default)]
struct MagnitudeGroups {
    cells: Vec<[f64; 3]>,
}

impl MagnitudeGroups {
    fn add(&mut self, g: usize, v: f64) {
        add_magnitude(&mut self.cells[g], v);
    }

    fn arrays(cells: &[[f64; 3]]) -> [ArrayRef; 3] {
        let col = |i: usize| -> ArrayRef {
            Arc::new(Float64Array::from_iter_values(cells.iter().map(|m| m[i])))
        };
        [col(0), col(1), col(2)]
    }
}

impl Groups for MagnitudeGroups {
    fn ensure(&mut self, groups: usize) {
        if self.cells.len() < groups {
            self.cells.resize(groups, [0.0; 3]);
        }
    }

    /// One group: its total and two largest in registers over the batch
    /// (the same additions in the same order as the grouped path).
    fn update_one(&mut self, values: &[ArrayRef], zeros: &[usize]) -> Result<()> {
        let Some(v) = values.first() else {
            return exec_err!("{MAGNITUDE_FN} takes one argument");
        };
        let v = v.as_primitive::<Float64Type>();
        if v.null_count() > 0 {
            return self.update_batch(values, &zeros[..v.len()], None, 1);
        }
        self.ensure(1);
        let mut m = self.cells[0];
        for x in v.values() {
            add_magnitude(&mut m, *x);
        }
        self.cells[0] = m;
        Ok(())
    }
}

impl GroupsAccumulator for MagnitudeGroups {
    fn update_batch(
        &mut self,
        values: &[ArrayRef],
        group_indices: &[usize],
        opt_filter: Option<&BooleanArray>,
        total_num_groups: usize,
    ) -> Result<()> {
        self.cells.resize(total_num_groups, [0.0; 3]);
        let Some(v) = values.first() else {
            return exec_err!("{MAGNITUDE_FN} takes one argument");
        };
        let v = v.as_primitive::<Float64Type>();
        if v.null_count() == 0 && opt_filter.is_none() {
            for (x, g) in v.values().iter().zip(group_indices) {
                self.add(*g, *x);
            }
        } else {
            for (r, g) in group_indices.iter().enumerate() {
                if v.is_valid(r) && passes(opt_filter, r) {
                    self.add(*g, v.value(r));
                }
            }
        }
        Ok(())
    }

    fn evaluate(&mut self, emit_to: EmitTo) -> Result<ArrayRef> {
        let cells = emit_to.take_needed(&mut self.cells);
        let [t, a, b] = Self::arrays(&cells);
        Ok(Arc::new(StructArray::new(
            magnitude_fields(),
            vec![t, a, b],
            None,
        )))
    }

    fn state(&mut self, emit_to: EmitTo) -> Result<Vec<ArrayRef>> {
        let cells = emit_to.take_needed(&mut self.cells);
        Ok(Self::arrays(&cells).to_vec())
    }

    fn merge_batch(
        &mut self,
        values: &[ArrayRef],
        group_indices: &[usize],
        total_num_groups: usize,
    ) -> Result<()> {
        self.cells.resize(total_num_groups, [0.0; 3]);
        let [t, a, b] = values else {
            return exec_err!("{MAGNITUDE_FN} state is three numbers");
        };
        let (t, a, b) = (
            t.as_primitive::<Float64Type>(),
            a.as_primitive::<Float64Type>(),
            b.as_primitive::<Float64Type>(),
        );
        for (r, g) in group_indices.iter().enumerate() {
            // The other part's two largest are two more candidates.
            let m = &mut self.cells[*g];
            m[0] += t.value(r);
            keep_top2(m, a.value(r));
            keep_top2(m, b.value(r));
        }
        Ok(())
    }

    fn convert_to_state(
        &self,
        _values: &[ArrayRef],
        _opt_filter: Option<&BooleanArray>,
    ) -> Result<Vec<ArrayRef>> {
        datafusion::common::not_impl_err!("{} has no row-wise state", MAGNITUDE_FN)
    }

    fn size(&self) -> usize {
        self.cells.capacity() * 24
    }
}

// ---- Sketches -------------------------------------------------------------------

/// `shuyun_sketch(digest)`: the cell's [`UnitSketch`] (for differencing),
/// as bytes ([`UnitSketch::to_bytes`]); every occurrence counts (a multiset).
/// With `stored` (the agreement's digest keys), the argument is the stored
/// digest column itself, and the agreement's bijection is applied here, row
/// by row, rather than by a digest function before the aggregate: the same
/// sketch, without an intermediate column.
#[derive(Debug, PartialEq, Eq, Hash)]
struct Sketch {
    buckets: usize,
    stored: Option<(u64, u64)>,
    signature: Signature,
}

pub(crate) fn sketch_udaf(buckets: usize, stored: Option<(u64, u64)>) -> Arc<AggregateUDF> {
    Arc::new(AggregateUDF::from(Sketch {
        buckets,
        stored,
        signature: Signature::exact(vec![DataType::UInt64], Volatility::Immutable),
    }))
}

impl AggregateUDFImpl for Sketch {
    fn name(&self) -> &str {
        SKETCH_FN
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(DataType::Binary)
    }

    fn accumulator(&self, _args: AccumulatorArgs) -> Result<Box<dyn Accumulator>> {
        Ok(Box::new(Single::new(SketchGroups::new(
            self.buckets,
            self.stored,
        ))))
    }

    fn state_fields(&self, args: StateFieldsArgs) -> Result<Vec<FieldRef>> {
        Ok(vec![Arc::new(Field::new(
            format_state_name(args.name, "sketch"),
            DataType::Binary,
            true,
        ))])
    }

    fn groups_accumulator_supported(&self, _args: AccumulatorArgs) -> bool {
        true
    }

    fn create_groups_accumulator(
        &self,
        _args: AccumulatorArgs,
    ) -> Result<Box<dyn GroupsAccumulator>> {
        Ok(Box::new(SketchGroups::new(self.buckets, self.stored)))
    }
}

/// The groups' sketches, in one flat [`SketchBank`].
#[derive(Debug)]
struct SketchGroups {
    stored: Option<(u64, u64)>,
    bank: SketchBank,
}

impl SketchGroups {
    fn new(buckets: usize, stored: Option<(u64, u64)>) -> Self {
        Self {
            stored,
            bank: SketchBank::new(buckets),
        }
    }

    fn bytes(&mut self, emit_to: EmitTo) -> ArrayRef {
        let n = match emit_to {
            EmitTo::All => self.bank.len(),
            EmitTo::First(n) => n.min(self.bank.len()),
        };
        let mut b = BinaryBuilder::with_capacity(n, n * (8 + 4 * self.bank.buckets()));
        let mut buf = Vec::new();
        for g in 0..n {
            buf.clear();
            self.bank.write_bytes(g, &mut buf);
            b.append_value(&buf);
        }
        match emit_to {
            EmitTo::All => self.bank = SketchBank::new(self.bank.buckets()),
            EmitTo::First(_) => self.bank.drop_first(n),
        }
        Arc::new(b.finish())
    }
}

impl Groups for SketchGroups {
    fn ensure(&mut self, groups: usize) {
        self.bank.grow(groups);
    }

    fn update_one(&mut self, values: &[ArrayRef], zeros: &[usize]) -> Result<()> {
        let Some(d) = values.first() else {
            return exec_err!("{SKETCH_FN} takes one argument");
        };
        let d = d.as_primitive::<UInt64Type>();
        if d.null_count() > 0 {
            return self.update_batch(values, &zeros[..d.len()], None, 1);
        }
        self.bank.grow(1);
        match self.stored {
            Some(k) => self.bank.add_to(
                0,
                d.values().iter().map(|v| unit_digest::for_agreement(*v, k)),
            ),
            None => self.bank.add_to(0, d.values().iter().copied()),
        }
        Ok(())
    }
}

impl GroupsAccumulator for SketchGroups {
    fn update_batch(
        &mut self,
        values: &[ArrayRef],
        group_indices: &[usize],
        opt_filter: Option<&BooleanArray>,
        total_num_groups: usize,
    ) -> Result<()> {
        self.bank.grow(total_num_groups);
        let Some(d) = values.first() else {
            return exec_err!("{SKETCH_FN} takes one argument");
        };
        let d = d.as_primitive::<UInt64Type>();
        let keys = self.stored;
        if keys.is_some() && d.null_count() > 0 {
            return Err(damaged());
        }
        let digest = |v: u64| keys.map_or(v, |k| unit_digest::for_agreement(v, k));
        if d.null_count() == 0 && opt_filter.is_none() {
            match keys {
                Some(k) => self.bank.add_all(
                    group_indices,
                    d.values().iter().map(|v| unit_digest::for_agreement(*v, k)),
                ),
                None => self.bank.add_all(group_indices, d.values().iter().copied()),
            }
            return Ok(());
        }
        for (r, g) in group_indices.iter().enumerate() {
            if d.is_valid(r) && passes(opt_filter, r) {
                self.bank.add(*g, digest(d.value(r)));
            }
        }
        Ok(())
    }

    fn evaluate(&mut self, emit_to: EmitTo) -> Result<ArrayRef> {
        Ok(self.bytes(emit_to))
    }

    fn state(&mut self, emit_to: EmitTo) -> Result<Vec<ArrayRef>> {
        Ok(vec![self.bytes(emit_to)])
    }

    fn merge_batch(
        &mut self,
        values: &[ArrayRef],
        group_indices: &[usize],
        total_num_groups: usize,
    ) -> Result<()> {
        self.bank.grow(total_num_groups);
        let Some(v) = values.first() else {
            return exec_err!("{SKETCH_FN} state is one sketch");
        };
        let v = v.as_binary::<i32>();
        for (r, g) in group_indices.iter().enumerate() {
            if v.is_null(r) {
                continue;
            }
            let Some(part) = UnitSketch::from_bytes(v.value(r)) else {
                return exec_err!("{SKETCH_FN}: a malformed partial sketch");
            };
            if !self.bank.merge(*g, &part) {
                return exec_err!("{SKETCH_FN}: partial sketches of different sizes");
            }
        }
        Ok(())
    }

    fn convert_to_state(
        &self,
        _values: &[ArrayRef],
        _opt_filter: Option<&BooleanArray>,
    ) -> Result<Vec<ArrayRef>> {
        datafusion::common::not_impl_err!("{} has no row-wise state", SKETCH_FN)
    }

    fn size(&self) -> usize {
        self.bank.size()
    }
}

#[cfg(test)]
mod tests {
    use datafusion::arrow::array::StringArray;

    use super::*;

    const PLATFORM: [u8; 16] = *b"units-test-key!!";

    fn digest(keys: (u64, u64), v: &str) -> u64 {
        let d = digest_udf(keys, UnitDigestKey::from_bytes(PLATFORM), DigestKind::Value);
        let a: ArrayRef = Arc::new(StringArray::from(vec![v]));
        let args = ScalarFunctionArgs {
            args: vec![ColumnarValue::Array(a)],
            arg_fields: vec![Arc::new(Field::new("v", DataType::Utf8, true))],
            number_rows: 1,
            return_field: Arc::new(Field::new("d", DataType::UInt64, true)),
            config_options: Arc::default(),
        };
        match d.invoke_with_args(args).expect("digests") {
            ColumnarValue::Array(a) => a.as_primitive::<UInt64Type>().value(0),
            ColumnarValue::Scalar(_) => panic!("an array"),
        }
    }

    #[test]
    fn digests_are_keyed_and_stable() {
        let (a, b) = ((1, 2), (3, 4));
        assert_eq!(
            digest(a, "91360200MA00000001"),
            digest(a, "91360200MA00000001")
        );
        assert_ne!(
            digest(a, "91360200MA00000001"),
            digest(b, "91360200MA00000001")
        );
        assert_ne!(
            digest(a, "91360200MA00000001"),
            digest(a, "91360200MA00000002")
        );
    }

    /// A sketch over stored digests (the agreement's bijection applied
    /// in the aggregate) is the sketch of the units' computed digests, and
    /// a missing stored digest is an error, never a unit left out.
    #[test]
    fn sketches_of_stored_digests_are_those_of_computed_digests_and_refuse_gaps() {
        let platform = UnitDigestKey::from_bytes(PLATFORM);
        let keys = (5, 6);
        let ids = [
            "36020219800101001X",
            "360202198001010021",
            "360202198001010021",
        ];
        let buckets = UnitSketch::buckets_for(10);
        let mut stored = SketchGroups::new(buckets, Some(keys));
        let a: ArrayRef = Arc::new(UInt64Array::from_iter_values(
            ids.iter().map(|id| platform.bytes(id.as_bytes())),
        ));
        stored
            .update_batch(&[a], &[0, 1, 1], None, 2)
            .expect("stored digests");
        let mut computed = SketchGroups::new(buckets, None);
        let d: ArrayRef = Arc::new(UInt64Array::from_iter_values(
            ids.iter().map(|id| digest(keys, id)),
        ));
        computed
            .update_batch(&[d], &[0, 1, 1], None, 2)
            .expect("digests");
        let (s, c) = (stored.bytes(EmitTo::All), computed.bytes(EmitTo::All));
        assert_eq!(s.as_binary::<i32>(), c.as_binary::<i32>());
        let one = UnitSketch::from_bytes(s.as_binary::<i32>().value(1)).expect("a sketch");
        assert_eq!(one.rows(), 2);
        let gap: ArrayRef = Arc::new(UInt64Array::from(vec![Some(1), None]));
        let err = SketchGroups::new(buckets, Some(keys))
            .update_batch(&[gap], &[0, 0], None, 1)
            .expect_err("a gap");
        assert!(err.to_string().contains("no stored unit digest"), "{err}");
    }

    /// Without `GROUP BY`, the one group's sketch is that of the grouped
    /// path, over stored and computed digests alike, batch after batch;
    /// a gap in stored digests is still an error, and a null computed
    /// digest (no unit) is left out as in groups.
    #[test]
    fn a_single_group_sketches_as_groups_do() {
        let buckets = UnitSketch::buckets_for(10);
        let keys = (5, 6);
        let batches: Vec<ArrayRef> = vec![
            Arc::new(UInt64Array::from_iter_values(0..5_000u64)),
            Arc::new(UInt64Array::from_iter_values([7u64, 7, 9])),
        ];
        for stored in [Some(keys), None] {
            let mut single = Single::new(SketchGroups::new(buckets, stored));
            let mut groups = SketchGroups::new(buckets, stored);
            for b in &batches {
                Accumulator::update_batch(&mut single, std::slice::from_ref(b)).expect("single");
                groups
                    .update_batch(std::slice::from_ref(b), &vec![0; b.len()], None, 1)
                    .expect("groups");
            }
            let g = groups.bytes(EmitTo::All);
            let expected = ScalarValue::try_from_array(&g, 0).expect("a sketch");
            assert_eq!(
                Accumulator::evaluate(&mut single).expect("evaluate"),
                expected
            );
        }
        let gap: ArrayRef = Arc::new(UInt64Array::from(vec![Some(1), None]));
        let err = Single::new(SketchGroups::new(buckets, Some(keys)))
            .update_batch(std::slice::from_ref(&gap))
            .expect_err("a gap");
        assert!(err.to_string().contains("no stored unit digest"), "{err}");
        let mut single = Single::new(SketchGroups::new(buckets, None));
        Accumulator::update_batch(&mut single, &[gap]).expect("a null digest");
        let ScalarValue::Binary(Some(b)) = Accumulator::evaluate(&mut single).expect("evaluate")
        else {
            panic!("a sketch");
        };
        assert_eq!(UnitSketch::from_bytes(&b).expect("a sketch").rows(), 1);
    }

    /// Emitting the first groups keeps the rest, as the aggregate's
    /// memory management expects.
    #[test]
    fn sketch_groups_emit_the_first_and_keep_the_rest() {
        let mut g = SketchGroups::new(UnitSketch::buckets_for(10), None);
        let d: ArrayRef = Arc::new(UInt64Array::from(vec![1u64, 2, 3, 4]));
        g.update_batch(&[d], &[0, 1, 2, 2], None, 3)
            .expect("update");
        let first = g.bytes(EmitTo::First(1));
        assert_eq!(first.len(), 1);
        let rest = g.bytes(EmitTo::All);
        let rows: Vec<u64> = rest
            .as_binary::<i32>()
            .iter()
            .map(|b| {
                UnitSketch::from_bytes(b.expect("bytes"))
                    .expect("sketch")
                    .rows()
            })
            .collect();
        assert_eq!(rows, vec![1, 2]);
        assert_eq!(g.bytes(EmitTo::All).len(), 0);
    }

    #[test]
    fn row_magnitudes_merge_to_the_whole() {
        let mut a = MagnitudeGroups::default();
        let v = |x: &[f64]| -> Vec<ArrayRef> { vec![Arc::new(Float64Array::from(x.to_vec()))] };
        a.update_batch(&v(&[5.0, -900.0]), &[0, 0], None, 1)
            .expect("update");
        let mut b = MagnitudeGroups::default();
        b.update_batch(&v(&[50.0, 5.0, 1.0]), &[0, 0, 1], None, 2)
            .expect("update");
        let state = b.state(EmitTo::All).expect("state");
        a.merge_batch(&state, &[0, 1], 2).expect("merge");
        assert_eq!(a.cells, vec![[960.0, 900.0, 50.0], [1.0, 1.0, 0.0]]);
    }

    /// Without `GROUP BY`, the one group's magnitude is that of the
    /// grouped path, exactly (the same additions in the same order), with
    /// and without nulls.
    #[test]
    fn a_single_magnitude_is_that_of_groups() {
        let batches: Vec<ArrayRef> = vec![
            Arc::new(Float64Array::from_iter_values(
                (0..5_000).map(|i| f64::from(i % 97) * 1.1 - 20.0),
            )),
            Arc::new(Float64Array::from(vec![Some(3.5), None, Some(-7000.25)])),
            Arc::new(Float64Array::from(vec![6000.0, 0.1])),
        ];
        let mut single = Single::new(MagnitudeGroups::default());
        let mut groups = MagnitudeGroups::default();
        for b in &batches {
            Accumulator::update_batch(&mut single, std::slice::from_ref(b)).expect("single");
            groups
                .update_batch(std::slice::from_ref(b), &vec![0; b.len()], None, 1)
                .expect("groups");
        }
        assert_eq!(single.0.cells, groups.cells);
        let [total, first, second] = groups.cells[0];
        assert_eq!((first, second), (7000.25, 6000.0));
        assert!(total > 13_000.0);
    }

    #[test]
    fn magnitude_keeps_the_two_largest() {
        assert_eq!(
            magnitude_of([5.0, -900.0, 50.0, 5.0].into_iter()),
            (960.0, 900.0, 50.0)
        );
        assert_eq!(magnitude_of(std::iter::empty()), (0.0, 0.0, 0.0));
    }
}
