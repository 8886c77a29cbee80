//! Keyed pseudonyms (假名化) for sensitive personal identifiers: the
//! lowercase hex of SM3(key ‖ value), with a key per agreement, so one
//! person has the same pseudonym in every table of the agreement (joins
//! work) and a different one under another agreement (no linkage across
//! operators). The function is not in the session's registry: only the
//! guard applies it, directly above a scan.

use std::sync::Arc;

use datafusion::arrow::array::{Array, ArrayRef, StringArray, StringBuilder};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::DataType;
use datafusion::common::{Result, ScalarValue, exec_err};
use datafusion::logical_expr::{
    ColumnarValue, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature, Volatility,
};
use sm3::{Digest, Sm3};

/// The name under which pseudonyms show in plans.
pub const PSEUDONYM_FN: &str = "shuyun_pseudonym";

/// The pseudonym key of one agreement (at least 16 bytes).
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct PseudonymKey(Vec<u8>);

impl PseudonymKey {
    /// `None` when shorter than 16 bytes.
    pub fn new(bytes: impl Into<Vec<u8>>) -> Option<Self> {
        let b = bytes.into();
        (b.len() >= 16).then_some(Self(b))
    }

    /// The keys of the unit digests of the output checks (SipHash-1-3),
    /// derived from this key: digests of one agreement mean nothing under
    /// another.
    pub(crate) fn digest_keys(&self) -> (u64, u64) {
        let mut h = Sm3::new();
        h.update(b"shuyun unit digest\0");
        h.update(&self.0);
        let d = h.finalize();
        let (mut a, mut b) = ([0u8; 8], [0u8; 8]);
        a.copy_from_slice(&d[..8]);
        b.copy_from_slice(&d[8..16]);
        (u64::from_le_bytes(a), u64::from_le_bytes(b))
    }

    /// The pseudonym of one value.
    pub fn pseudonym(&self, value: &str) -> String {
        let mut h = Sm3::new();
        h.update(&self.0);
        h.update(value.as_bytes());
        hex::encode(h.finalize())
    }
}

impl std::fmt::Debug for PseudonymKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PseudonymKey(…)")
    }
}

#[derive(Debug, PartialEq, Eq, Hash)]
struct Pseudonym {
    key: PseudonymKey,
    signature: Signature,
}

/// The pseudonym function of one key.
pub fn pseudonym_udf(key: PseudonymKey) -> Arc<ScalarUDF> {
    Arc::new(ScalarUDF::from(Pseudonym {
        key,
        signature: Signature::string(1, Volatility::Immutable),
    }))
}

impl ScalarUDFImpl for Pseudonym {
    fn name(&self) -> &str {
        PSEUDONYM_FN
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(DataType::Utf8)
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let [arg] = args.args.as_slice() else {
            return exec_err!("{PSEUDONYM_FN} takes one argument");
        };
        match arg {
            ColumnarValue::Scalar(s) => {
                let v = match s.cast_to(&DataType::Utf8)? {
                    ScalarValue::Utf8(v) => v,
                    _ => None,
                };
                Ok(ColumnarValue::Scalar(ScalarValue::Utf8(
                    v.map(|v| self.key.pseudonym(&v)),
                )))
            }
            ColumnarValue::Array(a) => {
                let a = cast(a, &DataType::Utf8)?;
                let Some(s) = a.as_any().downcast_ref::<StringArray>() else {
                    return exec_err!("{PSEUDONYM_FN} takes text");
                };
                let mut b = StringBuilder::with_capacity(s.len(), s.len() * 64);
                for v in s.iter() {
                    match v {
                        Some(v) => b.append_value(self.key.pseudonym(v)),
                        None => b.append_null(),
                    }
                }
                Ok(ColumnarValue::Array(Arc::new(b.finish()) as ArrayRef))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pseudonyms_are_keyed_and_stable() {
        let a = PseudonymKey::new(*b"agreement-1-key-0123456789abcdef").expect("long enough");
        let b = PseudonymKey::new(*b"agreement-2-key-0123456789abcdef").expect("long enough");
        let id = "360202199001011234";
        assert_eq!(a.pseudonym(id), a.pseudonym(id));
        assert_ne!(a.pseudonym(id), b.pseudonym(id));
        assert_eq!(a.pseudonym(id).len(), 64);
        assert!(PseudonymKey::new(*b"short").is_none());
    }
}
