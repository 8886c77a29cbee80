//! Keyed pseudonyms (假名化) for sensitive personal identifiers: the
//! lowercase hex of SM3(key ‖ value), with a key per agreement, so one
//! person has the same pseudonym in every table of the agreement (joins
//! work) and a different one under another agreement (no linkage across
//! operators). The function is not in the session's registry: only the
//! guard applies it, directly above a scan.

use std::sync::Arc;

use datafusion::arrow::array::{Array, ArrayRef, AsArray, StringArray, StringBuilder};
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

    /// The pseudonyms of a column of text, without an allocation per
    /// value: the hasher is cloned from one that holds the key, and the
    /// hex is written into a buffer on the stack.
    fn pseudonyms<'a>(
        &self,
        values: impl Iterator<Item = Option<&'a str>>,
        len: usize,
    ) -> ArrayRef {
        let mut keyed = Sm3::new();
        keyed.update(&self.0);
        let mut b = StringBuilder::with_capacity(len, len * 64);
        let mut hex_buf = [0u8; 64];
        for v in values {
            match v {
                Some(v) => {
                    let mut h = keyed.clone();
                    h.update(v.as_bytes());
                    let digest = h.finalize();
                    match hex::encode_to_slice(digest, &mut hex_buf) {
                        Ok(()) => b.append_value(std::str::from_utf8(&hex_buf).unwrap_or_default()),
                        Err(_) => b.append_null(),
                    }
                }
                None => b.append_null(),
            }
        }
        Arc::new(b.finish())
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
            ColumnarValue::Array(a) => Ok(ColumnarValue::Array(match a.data_type() {
                DataType::Utf8View => self.key.pseudonyms(a.as_string_view().iter(), a.len()),
                DataType::LargeUtf8 => self.key.pseudonyms(a.as_string::<i64>().iter(), a.len()),
                _ => {
                    let a = cast(a, &DataType::Utf8)?;
                    let Some(s) = a.as_any().downcast_ref::<StringArray>() else {
                        return exec_err!("{PSEUDONYM_FN} takes text");
                    };
                    self.key.pseudonyms(s.iter(), s.len())
                }
            })),
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

    #[test]
    fn column_pseudonyms_equal_single_ones() {
        let k = PseudonymKey::new(*b"agreement-1-key-0123456789abcdef").expect("long enough");
        let values = [Some("360202199001011234"), None, Some("")];
        let a = k.pseudonyms(values.iter().copied(), values.len());
        let a = a.as_string::<i32>();
        assert_eq!(a.value(0), k.pseudonym("360202199001011234"));
        assert!(a.is_null(1));
        assert_eq!(a.value(2), k.pseudonym(""));
    }
}
