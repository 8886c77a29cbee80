//! C2SP signed notes (<https://c2sp.org/signed-note>) with SM2DSA signatures.
//!
//! # Signature type
//!
//! The signed-note spec assigns type bytes `0x01`–`0x06` to other algorithms
//! and reserves `0xfa`–`0xfe` for its own future use, so a new algorithm may
//! only use `0xff`, "reserved for signature types without an identifier byte
//! assigned by this specification", which the spec recommends following with
//! a longer identifier unlikely to collide. SM2 therefore uses
//! [`SM2_SIGNATURE_TYPE`]: `0xff` followed by the DER encoding of the
//! registered object identifier of "SM2 signature with SM3" (GM/T 0006,
//! `1.2.156.10197.1.501`), which is globally unique and self-delimiting.
//!
//! * Public key: the 65-byte uncompressed SEC1 point `0x04 || x || y`.
//! * Key ID: `SHA-256(name || 0x0A || SM2_SIGNATURE_TYPE || public key)[:4]`.
//! * Verifier key: `<name>+<hex key ID>+<base64(SM2_SIGNATURE_TYPE || public key)>`.
//! * Signature: SM2DSA (GM/T 0003) over the note text with SM3 and the default
//!   distinguishing identifier [`SM2_DIST_ID`], encoded as the 64-byte `r || s`.
//!   The nonce is derived deterministically (RFC 6979 style), which verifiers
//!   cannot distinguish from a random one.

use base64::{Engine, engine::general_purpose::STANDARD};
use sha2::{Digest, Sha256};
use sm2::{
    SecretKey,
    dsa::{
        Signature, SigningKey, VerifyingKey,
        signature::{Signer, Verifier},
    },
    elliptic_curve::Generate,
    pkcs8::{DecodePrivateKey, EncodePrivateKey, LineEnding},
};

pub use sm2::elliptic_curve::zeroize::Zeroizing;

use crate::LedgerError;

/// DER encoding of OID 1.2.156.10197.1.501 (SM2 signature with SM3, GM/T 0006).
pub const SM2_WITH_SM3_OID_DER: [u8; 10] =
    [0x06, 0x08, 0x2a, 0x81, 0x1c, 0xcf, 0x55, 0x01, 0x83, 0x75];

/// Signature type identifier for SM2 notes: `0xff || SM2_WITH_SM3_OID_DER`.
///
/// The signed-note spec assigns `0x01`–`0x06` to other algorithms and reserves
/// `0xfa`–`0xfe` for its own future use; `0xff` is the byte it reserves for
/// signature types without an assigned identifier, recommending that it be
/// followed by a longer identifier unlikely to collide. The DER-encoded OID
/// of "SM2 signature with SM3" is globally unique and self-delimiting.
pub const SM2_SIGNATURE_TYPE: [u8; 11] = [
    0xff, 0x06, 0x08, 0x2a, 0x81, 0x1c, 0xcf, 0x55, 0x01, 0x83, 0x75,
];

/// The default SM2 distinguishing identifier (GM/T 0009).
pub const SM2_DIST_ID: &str = "1234567812345678";

const PUBLIC_KEY_LEN: usize = 65;
const SIGNATURE_LEN: usize = 64;
/// Upper bound on signature lines per note (the spec requires at least 16).
const MAX_SIGNATURES: usize = 100;
const SIG_PREFIX: &str = "\u{2014} ";

fn bad_note(msg: &str) -> LedgerError {
    LedgerError::BadNote(msg.to_owned())
}

fn bad_key(msg: &str) -> LedgerError {
    LedgerError::BadKey(msg.to_owned())
}

/// Key names must be non-empty, without Unicode spaces, `+` or ASCII control characters.
fn check_key_name(name: &str) -> Result<(), LedgerError> {
    if name.is_empty()
        || name
            .chars()
            .any(|c| c.is_whitespace() || c == '+' || c < ' ')
    {
        return Err(bad_key("key name must be non-empty without spaces or '+'"));
    }
    Ok(())
}

/// Note text must be non-empty, end in a newline and hold no other ASCII control characters.
fn check_text(text: &str) -> Result<(), LedgerError> {
    if !text.ends_with('\n') {
        return Err(bad_note("text must end with a newline"));
    }
    if text.chars().any(|c| c < ' ' && c != '\n') {
        return Err(bad_note("control character in note"));
    }
    Ok(())
}

/// `SHA-256(name || 0x0A || SM2_SIGNATURE_TYPE || public key)[:4]`.
fn compute_key_id(name: &str, public_key: &[u8; PUBLIC_KEY_LEN]) -> [u8; 4] {
    let digest = Sha256::new()
        .chain_update(name.as_bytes())
        .chain_update([0x0a])
        .chain_update(SM2_SIGNATURE_TYPE)
        .chain_update(public_key)
        .finalize();
    [digest[0], digest[1], digest[2], digest[3]]
}

/// A parsed signature line.
struct SignatureLine<'a> {
    name: &'a str,
    key_id: [u8; 4],
    signature: Vec<u8>,
}

/// Splits a signed note into its text and signature lines, enforcing the format rules.
fn parse_note(note: &str) -> Result<(&str, Vec<SignatureLine<'_>>), LedgerError> {
    if note.chars().any(|c| c < ' ' && c != '\n') {
        return Err(bad_note("control character in note"));
    }
    let split = note
        .rfind("\n\n")
        .ok_or_else(|| bad_note("missing blank line before signatures"))?;
    let (text, sigs) = (&note[..=split], &note[split + 2..]);
    let sigs = sigs
        .strip_suffix('\n')
        .ok_or_else(|| bad_note("signature block must end with a newline"))?;
    if sigs.is_empty() {
        return Err(bad_note("no signature lines"));
    }
    let mut lines = Vec::new();
    for line in sigs.split('\n') {
        if lines.len() == MAX_SIGNATURES {
            return Err(bad_note("too many signature lines"));
        }
        let rest = line
            .strip_prefix(SIG_PREFIX)
            .ok_or_else(|| bad_note("signature line must start with an em dash and a space"))?;
        let (name, b64) = rest
            .split_once(' ')
            .ok_or_else(|| bad_note("signature line has no signature"))?;
        check_key_name(name).map_err(|_| bad_note("invalid key name in signature line"))?;
        let mut signature = STANDARD
            .decode(b64)
            .map_err(|_| bad_note("signature is not valid base64"))?;
        if signature.len() < 5 {
            return Err(bad_note("signature too short"));
        }
        let key_id = [signature[0], signature[1], signature[2], signature[3]];
        signature.drain(..4);
        lines.push(SignatureLine {
            name,
            key_id,
            signature,
        });
    }
    Ok((text, lines))
}

/// An SM2 private key with its key name, producing signed notes.
#[derive(Clone)]
pub struct NoteSigner {
    secret: SecretKey,
    signing_key: SigningKey,
    verifier: NoteVerifier,
}

impl std::fmt::Debug for NoteSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NoteSigner")
            .field("verifier", &self.verifier.to_vkey_string())
            .finish_non_exhaustive()
    }
}

impl NoteSigner {
    /// Generates a fresh key from the operating system's random source.
    pub fn generate(name: &str) -> Result<Self, LedgerError> {
        let secret = SecretKey::try_generate()
            .map_err(|e| LedgerError::Signing(format!("random source: {e}")))?;
        Self::from_secret(name, secret)
    }

    /// Loads a PKCS#8 PEM ("PRIVATE KEY") SM2 private key.
    pub fn from_pkcs8_pem(name: &str, pem: &str) -> Result<Self, LedgerError> {
        let secret = SecretKey::from_pkcs8_pem(pem)
            .map_err(|e| LedgerError::BadKey(format!("not a PKCS#8 PEM SM2 private key: {e}")))?;
        Self::from_secret(name, secret)
    }

    fn from_secret(name: &str, secret: SecretKey) -> Result<Self, LedgerError> {
        check_key_name(name)?;
        let signing_key = SigningKey::new(SM2_DIST_ID, &secret)
            .map_err(|_| bad_key("cannot build SM2 signing key"))?;
        let public_key: [u8; PUBLIC_KEY_LEN] = signing_key
            .verifying_key()
            .to_sec1_bytes()
            .as_ref()
            .try_into()
            .map_err(|_| bad_key("public key is not an uncompressed point"))?;
        let verifier = NoteVerifier {
            name: name.to_owned(),
            key_id: compute_key_id(name, &public_key),
            public_key,
            key: signing_key.verifying_key().clone(),
        };
        Ok(Self {
            secret,
            signing_key,
            verifier,
        })
    }

    /// The private key as PKCS#8 PEM, wiped from memory when dropped.
    pub fn to_pkcs8_pem(&self) -> Result<Zeroizing<String>, LedgerError> {
        self.secret
            .to_pkcs8_pem(LineEnding::LF)
            .map_err(|e| LedgerError::BadKey(format!("cannot encode private key: {e}")))
    }

    /// The matching verifier.
    pub fn verifier(&self) -> NoteVerifier {
        self.verifier.clone()
    }

    /// The key name.
    pub fn name(&self) -> &str {
        &self.verifier.name
    }

    /// Signs `text` (which must end in a newline) and returns the signed note:
    /// the text, a blank line and one signature line.
    pub fn sign(&self, text: &str) -> Result<String, LedgerError> {
        check_text(text)?;
        let signature: Signature = self
            .signing_key
            .try_sign(text.as_bytes())
            .map_err(|e| LedgerError::Signing(e.to_string()))?;
        let mut payload = Vec::with_capacity(4 + SIGNATURE_LEN);
        payload.extend_from_slice(&self.verifier.key_id);
        payload.extend_from_slice(&signature.to_bytes());
        Ok(format!(
            "{text}\n{SIG_PREFIX}{} {}\n",
            self.verifier.name,
            STANDARD.encode(payload)
        ))
    }
}

/// An SM2 public key with its key name, verifying signed notes.
#[derive(Clone)]
pub struct NoteVerifier {
    name: String,
    key_id: [u8; 4],
    public_key: [u8; PUBLIC_KEY_LEN],
    key: VerifyingKey,
}

impl std::fmt::Debug for NoteVerifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("NoteVerifier")
            .field(&self.to_vkey_string())
            .finish()
    }
}

impl PartialEq for NoteVerifier {
    fn eq(&self, other: &Self) -> bool {
        self.name == other.name && self.public_key == other.public_key
    }
}

impl Eq for NoteVerifier {}

impl NoteVerifier {
    /// Parses a verifier key `<name>+<hex key ID>+<base64(type || public key)>`.
    pub fn parse(vkey: &str) -> Result<Self, LedgerError> {
        let mut parts = vkey.splitn(3, '+');
        let (Some(name), Some(id_hex), Some(key_b64)) = (parts.next(), parts.next(), parts.next())
        else {
            return Err(bad_key("verifier key must have three '+'-separated parts"));
        };
        check_key_name(name)?;
        let mut key_id = [0u8; 4];
        if id_hex.len() != 8 || hex::decode_to_slice(id_hex, &mut key_id).is_err() {
            return Err(bad_key("key ID must be 8 hex digits"));
        }
        let key = STANDARD
            .decode(key_b64)
            .map_err(|_| bad_key("public key is not valid base64"))?;
        let public_key: [u8; PUBLIC_KEY_LEN] = key
            .strip_prefix(SM2_SIGNATURE_TYPE.as_slice())
            .ok_or_else(|| bad_key("not an SM2 verifier key (wrong signature type)"))?
            .try_into()
            .map_err(|_| bad_key("SM2 public key must be a 65-byte uncompressed point"))?;
        if public_key[0] != 0x04 {
            return Err(bad_key(
                "SM2 public key must be a 65-byte uncompressed point",
            ));
        }
        let key = VerifyingKey::from_sec1_bytes(SM2_DIST_ID, &public_key)
            .map_err(|_| bad_key("public key is not a point on the SM2 curve"))?;
        if compute_key_id(name, &public_key) != key_id {
            return Err(bad_key("key ID does not match the key name and public key"));
        }
        Ok(Self {
            name: name.to_owned(),
            key_id,
            public_key,
            key,
        })
    }

    /// The verifier key string, the inverse of [`NoteVerifier::parse`].
    pub fn to_vkey_string(&self) -> String {
        let mut key = Vec::with_capacity(SM2_SIGNATURE_TYPE.len() + PUBLIC_KEY_LEN);
        key.extend_from_slice(&SM2_SIGNATURE_TYPE);
        key.extend_from_slice(&self.public_key);
        format!(
            "{}+{}+{}",
            self.name,
            hex::encode(self.key_id),
            STANDARD.encode(key)
        )
    }

    /// The key name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The 4-byte key ID (big-endian uint32 in the spec).
    pub fn key_id(&self) -> [u8; 4] {
        self.key_id
    }

    /// The 65-byte uncompressed SEC1 public key.
    pub fn public_key(&self) -> &[u8; 65] {
        &self.public_key
    }

    /// Checks the note format and this key's signature, returning the note text.
    ///
    /// Signature lines from other keys (differing in name or key ID) are
    /// ignored. Every line matching both this key's name and key ID must
    /// verify, and there must be at least one.
    pub fn open(&self, note: &str) -> Result<String, LedgerError> {
        let (text, lines) = parse_note(note)?;
        let mut found = false;
        for line in lines {
            if line.name != self.name || line.key_id != self.key_id {
                continue;
            }
            let signature = Signature::from_slice(&line.signature)
                .map_err(|_| LedgerError::SignatureMismatch)?;
            self.key
                .verify(text.as_bytes(), &signature)
                .map_err(|_| LedgerError::SignatureMismatch)?;
            found = true;
        }
        if found {
            Ok(text.to_owned())
        } else {
            Err(LedgerError::NoSignatureForKey)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NAME: &str = "shuyun.example/ledger";
    const TEXT: &str = "shuyun.example/ledger\n42\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n";

    fn signer(name: &str) -> NoteSigner {
        NoteSigner::generate(name).expect("generate")
    }

    /// Replaces the payload of the (single) signature line of `note`.
    fn with_payload(note: &str, name: &str, payload: &[u8]) -> String {
        let text = &note[..=note.rfind("\n\n").expect("separator")];
        format!("{text}\n— {name} {}\n", STANDARD.encode(payload))
    }

    fn payload(note: &str) -> Vec<u8> {
        let b64 = note.trim_end().rsplit(' ').next().expect("line");
        STANDARD.decode(b64).expect("base64")
    }

    #[test]
    fn signature_type_is_the_sm2_with_sm3_oid() {
        let oid = sm2::pkcs8::ObjectIdentifier::new("1.2.156.10197.1.501").expect("oid");
        let mut der = vec![0x06, oid.as_bytes().len() as u8];
        der.extend_from_slice(oid.as_bytes());
        assert_eq!(der, SM2_WITH_SM3_OID_DER);
        assert_eq!(SM2_SIGNATURE_TYPE[0], 0xff);
        assert_eq!(SM2_SIGNATURE_TYPE[1..], SM2_WITH_SM3_OID_DER);
    }

    #[test]
    fn key_id_follows_the_spec() {
        let s = signer(NAME);
        let public = s.secret.public_key().to_sec1_bytes();
        assert_eq!(public.len(), 65);
        assert_eq!(public[0], 0x04);
        let mut input = NAME.as_bytes().to_vec();
        input.push(b'\n');
        input.push(0xff);
        input.extend_from_slice(&[0x06, 0x08, 0x2a, 0x81, 0x1c, 0xcf, 0x55, 0x01, 0x83, 0x75]);
        input.extend_from_slice(&public);
        let digest = sha2::Sha256::digest(&input);
        let v = s.verifier();
        assert_eq!(v.key_id(), digest[..4]);
        assert_eq!(v.public_key()[..], public[..]);
        let vkey = v.to_vkey_string();
        let parts: Vec<&str> = vkey.splitn(3, '+').collect();
        assert_eq!(parts[0], NAME);
        assert_eq!(parts[1], hex::encode(&digest[..4]));
        let key = STANDARD.decode(parts[2]).expect("base64");
        assert_eq!(key[..11], SM2_SIGNATURE_TYPE);
        assert_eq!(key[11..], public[..]);
    }

    #[test]
    fn sign_and_open() {
        let s = signer(NAME);
        assert_eq!(s.name(), NAME);
        let v = s.verifier();
        assert_eq!(v.name(), NAME);
        let note = s.sign(TEXT).expect("sign");
        assert!(note.starts_with(TEXT));
        assert!(note[TEXT.len()..].starts_with("\n— shuyun.example/ledger "));
        let p = payload(&note);
        assert_eq!(p.len(), 4 + 64);
        assert_eq!(p[..4], v.key_id());
        assert_eq!(v.open(&note), Ok(TEXT.to_owned()));

        // The signature is plain SM2DSA with the default distinguishing ID.
        let key = VerifyingKey::from_sec1_bytes("1234567812345678", v.public_key()).expect("key");
        let sig = Signature::from_slice(&p[4..]).expect("sig");
        assert!(key.verify(TEXT.as_bytes(), &sig).is_ok());
        let other_id = VerifyingKey::from_sec1_bytes("other", v.public_key()).expect("key");
        assert!(other_id.verify(TEXT.as_bytes(), &sig).is_err());

        // Texts with empty lines, including a trailing one.
        for text in [
            "a\n\nb\n",
            "a\n\n",
            "\n",
            "— x\n\n— y\n",
            "unicode ✓ text\n",
        ] {
            let note = s.sign(text).expect("sign");
            assert_eq!(v.open(&note), Ok(text.to_owned()), "{text:?}");
        }
    }

    #[test]
    fn sign_rejects_bad_text() {
        let s = signer(NAME);
        for text in [
            "",
            "no newline",
            "tab\there\n",
            "cr\r\n",
            "nul\0\n",
            "esc\x1b\n",
        ] {
            assert!(
                matches!(s.sign(text), Err(LedgerError::BadNote(_))),
                "{text:?}"
            );
        }
    }

    #[test]
    fn open_rejects_tampering() {
        let s = signer(NAME);
        let v = s.verifier();
        let note = s.sign(TEXT).expect("sign");

        // Tampered text.
        let tampered = note.replacen("42", "43", 1);
        assert_eq!(v.open(&tampered), Err(LedgerError::SignatureMismatch));
        let tampered = format!("x{note}");
        assert_eq!(v.open(&tampered), Err(LedgerError::SignatureMismatch));
        // An extra empty line is part of the text (the last blank line separates).
        let tampered = note.replacen("\n\n", "\n\n\n", 1);
        assert_eq!(v.open(&tampered), Err(LedgerError::SignatureMismatch));

        // Tampered signature bytes, in r and in s.
        for byte in [4, 40, 67] {
            let mut p = payload(&note);
            p[byte] ^= 0x01;
            let bad = with_payload(&note, NAME, &p);
            assert_eq!(v.open(&bad), Err(LedgerError::SignatureMismatch));
        }
        // Truncated or extended signature from the right key.
        let p = payload(&note);
        assert_eq!(
            v.open(&with_payload(&note, NAME, &p[..p.len() - 1])),
            Err(LedgerError::SignatureMismatch)
        );
        let mut longer = p.clone();
        longer.push(0);
        assert_eq!(
            v.open(&with_payload(&note, NAME, &longer)),
            Err(LedgerError::SignatureMismatch)
        );

        // Wrong key name or key ID: the line is not ours.
        let renamed = with_payload(&note, "other.example/ledger", &p);
        assert_eq!(v.open(&renamed), Err(LedgerError::NoSignatureForKey));
        let mut wrong_id = p.clone();
        wrong_id[0] ^= 0x80;
        assert_eq!(
            v.open(&with_payload(&note, NAME, &wrong_id)),
            Err(LedgerError::NoSignatureForKey)
        );

        // Another key, with the same or another name.
        for other in [signer(NAME), signer("other.example/ledger")] {
            let other_note = other.sign(TEXT).expect("sign");
            assert_eq!(v.open(&other_note), Err(LedgerError::NoSignatureForKey));
            assert_eq!(
                other.verifier().open(&note),
                Err(LedgerError::NoSignatureForKey)
            );
            // Another key's signature presented under our name and key ID.
            let mut forged = p[..4].to_vec();
            forged.extend_from_slice(&payload(&other_note)[4..]);
            assert_eq!(
                v.open(&with_payload(&note, NAME, &forged)),
                Err(LedgerError::SignatureMismatch)
            );
        }
    }

    #[test]
    fn several_signatures() {
        let (a, b, c) = (
            signer("a.example"),
            signer("b.example"),
            signer("c.example"),
        );
        let note_a = a.sign(TEXT).expect("sign");
        let note_b = b.sign(TEXT).expect("sign");
        let line_b = &note_b[TEXT.len() + 1..];
        let both = format!("{note_a}{line_b}");
        assert_eq!(a.verifier().open(&both), Ok(TEXT.to_owned()));
        assert_eq!(b.verifier().open(&both), Ok(TEXT.to_owned()));
        assert_eq!(
            c.verifier().open(&both),
            Err(LedgerError::NoSignatureForKey)
        );
        // Unknown lines with arbitrary signature lengths are ignored.
        let unknown = format!(
            "{TEXT}\n— x.example AAAAAAAA\n{}",
            &note_a[TEXT.len() + 1..]
        );
        assert_eq!(a.verifier().open(&unknown), Ok(TEXT.to_owned()));
        // A bad duplicate of our own line rejects the whole note.
        let mut p = payload(&note_a);
        p[10] ^= 1;
        let dup = format!("{note_a}— a.example {}\n", STANDARD.encode(&p));
        assert_eq!(a.verifier().open(&dup), Err(LedgerError::SignatureMismatch));
        // Many signature lines are refused.
        let many = format!("{note_a}{}", line_b.repeat(MAX_SIGNATURES));
        assert!(matches!(
            a.verifier().open(&many),
            Err(LedgerError::BadNote(_))
        ));
        let enough = format!("{note_a}{}", line_b.repeat(15));
        assert_eq!(a.verifier().open(&enough), Ok(TEXT.to_owned()));
    }

    #[test]
    fn open_rejects_malformed_notes() {
        let s = signer(NAME);
        let v = s.verifier();
        let note = s.sign(TEXT).expect("sign");
        let line = &note[TEXT.len() + 1..];
        let b64 = line.trim_end().rsplit(' ').next().expect("b64");
        let bad_notes = [
            format!("{TEXT}{line}"),                                     // no blank line
            note.trim_end_matches('\n').to_owned(),                      // no final newline
            format!("{note}\n"),                  // blank line after signatures
            format!("{TEXT}\n"),                  // no signature lines
            note.replace('—', "-"),               // hyphen, not em dash
            note.replace("— ", "—"),              // no space after dash
            note.replace("— ", " — "),            // leading space
            format!("{TEXT}\n— {NAME}  {b64}\n"), // two spaces
            format!("{TEXT}\n— {NAME} {b64} \n"), // trailing space
            format!("{TEXT}\n— {NAME}\n"),        // no signature
            format!("{TEXT}\n— {NAME} \n"),       // empty signature
            format!("{TEXT}\n— {NAME} AAAA\n"),   // too short
            format!("{TEXT}\n— {NAME} {}\n", b64.trim_end_matches('=')), // unpadded
            format!("{TEXT}\n— {NAME} !{b64}\n"), // not base64
            format!("{TEXT}\n—  {b64}\n"),        // empty name
            format!("{TEXT}\n— a+b {b64}\n"),     // plus in name
            format!("{TEXT}\n— a\u{a0}b {b64}\n"), // Unicode space in name
            note.replacen('\n', "\r\n", 1),       // CR in text
            note.replacen('4', "\t4", 1),         // tab in text
            note.replace(&format!("{b64}\n"), &format!("{b64}\r\n")), // CR in signature line
            format!("\x01{note}"),                // other control character
            format!("{note}{line}").replacen(line, "junk\n", 1), // a bad line among good ones
        ];
        for bad in &bad_notes {
            assert!(
                matches!(v.open(bad), Err(LedgerError::BadNote(_))),
                "accepted {bad:?}: {:?}",
                v.open(bad)
            );
        }
    }

    #[test]
    fn vkey_round_trip_and_rejections() {
        let s = signer(NAME);
        let v = s.verifier();
        let vkey = v.to_vkey_string();
        let parsed = NoteVerifier::parse(&vkey).expect("parse");
        assert_eq!(parsed, v);
        assert_eq!(parsed.to_vkey_string(), vkey);
        assert_eq!(
            parsed.open(&s.sign(TEXT).expect("sign")),
            Ok(TEXT.to_owned())
        );
        assert!(format!("{parsed:?}").contains(&vkey));

        // Upper-case hex key IDs are accepted.
        let (name, rest) = vkey.split_once('+').expect("plus");
        let (id, key) = rest.split_once('+').expect("plus");
        let upper = format!("{name}+{}+{key}", id.to_uppercase());
        assert_eq!(NoteVerifier::parse(&upper), Ok(v.clone()));

        let raw = STANDARD.decode(key).expect("base64");
        let with_key = |bytes: &[u8]| format!("{name}+{id}+{}", STANDARD.encode(bytes));
        let mut not_on_curve = raw.clone();
        not_on_curve[40] ^= 1;
        let mut wrong_type = raw.clone();
        wrong_type[0] = 0x01;
        let mut compressed = raw[..11].to_vec();
        compressed.push(0x02 + (raw[11 + 64] & 1));
        compressed.extend_from_slice(&raw[12..44]);
        let mut wrong_id = id.as_bytes().to_vec();
        wrong_id[0] = if wrong_id[0] == b'0' { b'1' } else { b'0' };
        let wrong_id = String::from_utf8(wrong_id).expect("ascii");

        let bad = [
            String::new(),
            name.to_owned(),
            format!("{name}+{id}"),
            format!("+{id}+{key}"),
            format!("other+{id}+{key}"),          // key ID mismatch
            format!("{name}+{wrong_id}+{key}"),   // key ID mismatch
            format!("{name}+{}+{key}", &id[1..]), // short ID
            format!("{name}+0{id}+{key}"),        // long ID
            format!("{name}+xyzxyzxy+{key}"),     // not hex
            format!("a b+{id}+{key}"),            // space in name
            format!("{name}+{id}+{key}!"),        // bad base64
            with_key(&raw[..raw.len() - 1]),      // short key
            with_key(&not_on_curve),
            with_key(&wrong_type),
            with_key(&compressed),
            with_key(&raw[11..]), // no type
            "example.com/foo+530d903a+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k".to_owned(), // Ed25519
        ];
        for vkey in &bad {
            assert!(
                matches!(NoteVerifier::parse(vkey), Err(LedgerError::BadKey(_))),
                "accepted {vkey:?}"
            );
        }
    }

    #[test]
    fn pem_round_trip() {
        let s = signer(NAME);
        let pem = s.to_pkcs8_pem().expect("pem");
        assert!(pem.starts_with("-----BEGIN PRIVATE KEY-----\n"));
        let loaded = NoteSigner::from_pkcs8_pem(NAME, &pem).expect("load");
        assert_eq!(loaded.verifier(), s.verifier());
        assert_eq!(*loaded.to_pkcs8_pem().expect("pem"), *pem);
        // Deterministic signatures: same key, same text, same note.
        assert_eq!(loaded.sign(TEXT), s.sign(TEXT));
        // Same key under another name: another key ID.
        let renamed = NoteSigner::from_pkcs8_pem("other.example", &pem).expect("load");
        assert_ne!(renamed.verifier().key_id(), s.verifier().key_id());
        assert!(!format!("{s:?}").contains("PRIVATE"));

        let bad_pem = [
            String::new(),
            "not pem".to_owned(),
            pem.replace("PRIVATE KEY", "PUBLIC KEY"),
            pem.replacen('M', "N", 2),
        ];
        for bad in &bad_pem {
            assert!(matches!(
                NoteSigner::from_pkcs8_pem(NAME, bad),
                Err(LedgerError::BadKey(_))
            ));
        }
        for name in ["", "a b", "a+b", "a\nb"] {
            assert!(matches!(
                NoteSigner::from_pkcs8_pem(name, &pem),
                Err(LedgerError::BadKey(_))
            ));
            assert!(matches!(
                NoteSigner::generate(name),
                Err(LedgerError::BadKey(_))
            ));
        }
    }
}
