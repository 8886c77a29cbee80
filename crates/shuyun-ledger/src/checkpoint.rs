//! C2SP tlog-checkpoint note text (<https://c2sp.org/tlog-checkpoint>).

use base64::{Engine, engine::general_purpose::STANDARD};

use crate::{Hash, LedgerError};

/// A transparency log checkpoint: the note text of a signed tree head.
///
/// ```text
/// <origin>\n<decimal size>\n<base64 root hash>\n[<extension line>\n]*
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Checkpoint {
    /// Unique identifier of the log, e.g. `example.com/log42`.
    pub origin: String,
    /// Number of leaves in the tree.
    pub size: u64,
    /// RFC 9162 (SM3) Merkle tree hash at `size`.
    pub root: Hash,
    /// Opaque, non-empty extension lines (use is not recommended by the spec).
    pub extensions: Vec<String>,
}

fn bad(msg: &str) -> LedgerError {
    LedgerError::BadCheckpoint(msg.to_owned())
}

/// A checkpoint line must be non-empty and hold no ASCII control characters.
fn check_line(line: &str, what: &str) -> Result<(), LedgerError> {
    if line.is_empty() {
        return Err(LedgerError::BadCheckpoint(format!("empty {what} line")));
    }
    if line.chars().any(|c| c < ' ') {
        return Err(LedgerError::BadCheckpoint(format!(
            "control character in {what} line"
        )));
    }
    Ok(())
}

impl Checkpoint {
    /// A checkpoint without extension lines.
    pub fn new(origin: impl Into<String>, size: u64, root: Hash) -> Self {
        Self {
            origin: origin.into(),
            size,
            root,
            extensions: Vec::new(),
        }
    }

    /// Checks that the fields can be written as checkpoint text that parses
    /// back to the same value (non-empty lines without control characters).
    pub fn validate(&self) -> Result<(), LedgerError> {
        check_line(&self.origin, "origin")?;
        for ext in &self.extensions {
            check_line(ext, "extension")?;
        }
        Ok(())
    }

    /// The checkpoint note text, every line ending in a newline.
    ///
    /// Call [`Checkpoint::validate`] first if the fields come from untrusted
    /// input: an origin or extension containing a newline would produce text
    /// that parses differently.
    pub fn to_note_text(&self) -> String {
        let mut out = format!(
            "{}\n{}\n{}\n",
            self.origin,
            self.size,
            STANDARD.encode(self.root)
        );
        for ext in &self.extensions {
            out.push_str(ext);
            out.push('\n');
        }
        out
    }

    /// Parses checkpoint note text (without the signature block).
    pub fn parse(text: &str) -> Result<Self, LedgerError> {
        let body = text
            .strip_suffix('\n')
            .ok_or_else(|| bad("text must end with a newline"))?;
        let mut lines = body.split('\n');
        let mut next = |what: &str| {
            lines
                .next()
                .ok_or_else(|| LedgerError::BadCheckpoint(format!("missing {what} line")))
        };
        let (origin, size, root) = (next("origin")?, next("size")?, next("root hash")?);
        check_line(origin, "origin")?;
        check_line(size, "size")?;
        check_line(root, "root hash")?;

        let canonical =
            size.bytes().all(|b| b.is_ascii_digit()) && (size == "0" || !size.starts_with('0'));
        if !canonical {
            return Err(bad("size is not a canonical decimal number"));
        }
        let size: u64 = size
            .parse()
            .map_err(|_| bad("size does not fit in 64 bits"))?;

        let root: Hash = STANDARD
            .decode(root)
            .map_err(|_| bad("root hash is not valid base64"))?
            .try_into()
            .map_err(|_| bad("root hash is not 32 bytes"))?;

        let extensions = lines
            .map(|ext| check_line(ext, "extension").map(|()| ext.to_owned()))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Self {
            origin: origin.to_owned(),
            size,
            root,
            extensions,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sm3;

    #[test]
    fn spec_example_parses() {
        let text =
            "example.com/behind-the-sofa\n20852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n";
        let cp = Checkpoint::parse(text).expect("valid");
        assert_eq!(cp.origin, "example.com/behind-the-sofa");
        assert_eq!(cp.size, 20_852_163);
        assert_eq!(cp.root[..2], [0x0a, 0xc5]);
        assert!(cp.extensions.is_empty());
        assert_eq!(cp.to_note_text(), text);
    }

    #[test]
    fn round_trip() {
        let mut cp = Checkpoint::new("shuyun.example/ledger", 0, crate::EMPTY_ROOT);
        assert_eq!(Checkpoint::parse(&cp.to_note_text()), Ok(cp.clone()));
        cp.size = u64::MAX;
        cp.root = sm3(b"x");
        cp.extensions = vec!["ext one".into(), "— ext+two".into()];
        cp.validate().expect("valid");
        let text = cp.to_note_text();
        assert!(text.ends_with("— ext+two\n"));
        assert_eq!(Checkpoint::parse(&text), Ok(cp));
    }

    #[test]
    fn rejections() {
        let root = STANDARD.encode([7u8; 32]);
        let bad_texts = [
            String::new(),
            "origin\n".to_owned(),
            "origin\n5\n".to_owned(),
            format!("origin\n5\n{root}"),    // no final newline
            format!("\n5\n{root}\n"),        // empty origin
            format!("origin\n\n{root}\n"),   // empty size
            format!("origin\n05\n{root}\n"), // leading zero
            format!("origin\n00\n{root}\n"), // leading zero
            format!("origin\n+5\n{root}\n"), // sign
            format!("origin\n-5\n{root}\n"), // sign
            format!("origin\n 5\n{root}\n"), // space
            format!("origin\n18446744073709551616\n{root}\n"), // overflow
            "origin\n5\nAAAA\n".to_owned(),  // short hash
            format!("origin\n5\n{}\n", STANDARD.encode([7u8; 33])), // long hash
            format!("origin\n5\n{}\n", root.trim_end_matches('=')), // unpadded
            "origin\n5\n!!!!\n".to_owned(),  // not base64
            format!("origin\n5\n{root}\n\n"), // empty extension
            format!("origin\n5\n{root}\next\n\n"), // empty extension
            format!("orig\tin\n5\n{root}\n"), // control character
            format!("origin\n5\n{root}\ne\rxt\n"), // control character
            format!("origin\r\n5\n{root}\n"), // CRLF
        ];
        for text in bad_texts {
            assert!(
                matches!(Checkpoint::parse(&text), Err(LedgerError::BadCheckpoint(_))),
                "accepted {text:?}"
            );
        }
        assert!(Checkpoint::new("", 1, [0; 32]).validate().is_err());
        assert!(Checkpoint::new("a\nb", 1, [0; 32]).validate().is_err());
        let mut cp = Checkpoint::new("a", 1, [0; 32]);
        cp.extensions.push(String::new());
        assert!(cp.validate().is_err());
    }
}
