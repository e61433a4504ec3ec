//! OpenPGP verification of a split `InRelease` against a pinned keyring, with an explicit policy.
//!
//! rpgp provides the cryptography (`Signature::verify`) and nothing else: no time, expiry,
//! revocation, key-flag or hash-strength checks. The policy is here, and it is apt's and gpgv's
//! where they have one:
//!
//! - Keys come only from the profile's keyring (apt's `Signed-By`); a keyring that contains
//!   secret key material is refused.
//! - Only text signatures (type 0x01) count; their hash must be one announced by the `Hash:`
//!   armor header (gpg hashes with nothing else) and at least SHA-256 strength (SHA-1, MD5 and
//!   RIPEMD-160 are refused, as apt's sqv policy does).
//! - A signature is *good* when it verifies with a key of the keyring (a primary key or a signing
//!   subkey with a valid binding and back-signature) that was valid both when the signature was
//!   made and at the reference time: now for a live mirror, the snapshot time in snapshot mode.
//!   "Valid" means created before, not expired, and not revoked (a "superseded" or "retired"
//!   revocation counts only from its date on; any other revocation always counts).
//! - Debian signs with several keys and a client holds only some: signatures by keys outside the
//!   keyring are skipped. A signature by a key of the keyring that does not verify is fatal (gpgv:
//!   "At least one invalid signature was encountered"). At least one good signature is required.

use pgp::composed::{
    Deserializable, DetachedSignature, PublicOrSecret, SignedPublicKey, SignedPublicSubKey,
};
use pgp::crypto::hash::HashAlgorithm;
use pgp::packet::{
    PacketParser, PacketTrait, RevocationCode, Signature, SignatureType, SubpacketData,
};
use pgp::types::{KeyDetails, Tag, Timestamp as PgpTimestamp};

use crate::repo::clearsign::Cleartext;
use crate::timestamp::Timestamp;

/// Signatures made more than this many seconds after the reference time are refused.
const MAX_FUTURE_SECONDS: i64 = 10;

/// The public keys a repository must be signed by.
pub struct Keyring {
    keys: Vec<SignedPublicKey>,
    /// The outcome of each self-signature check of the keys ([`Keyring::checked`]).
    checked: Checked,
}

/// Which check a signature of the keyring went through.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Check {
    Key,
    Certification,
    SubkeyBinding,
    PrimaryKeyBinding,
}

/// The outcomes of the cryptographic checks of the keyring's own signatures, by the
/// signature's place in the keyring. A check's outcome does not depend on the time judged
/// (only which signatures count does), and the keys never change once parsed; the suites of a
/// profile, verified against one keyring, would otherwise check the same self-signatures (RSA,
/// a third of a warm `lock`'s verification time each) once per suite and per signature.
#[derive(Default)]
struct Checked(std::sync::Mutex<std::collections::BTreeMap<(usize, Check), Result<(), String>>>);

/// Why a keyring cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyringError {
    #[error("keyring is empty")]
    Empty,
    #[error("keyring contains secret key material")]
    Secret,
    #[error("keyring is not an OpenPGP keyring: {0}")]
    Malformed(String),
}

/// The signer of a good signature.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GoodSignature {
    /// Upper-case hex fingerprint of the key that made the signature (primary or subkey).
    pub key: String,
    /// Upper-case hex fingerprint of that key's primary key.
    pub primary: String,
    pub created: Timestamp,
}

/// Why a signed file is not trusted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    #[error("the signature block holds no signature: {0}")]
    Malformed(String),
    #[error("invalid signature by key {key}: {reason}")]
    Bad { key: String, reason: String },
    #[error("no valid signature by a key of the keyring ({})", .rejected.join("; "))]
    NoTrustedSignature { rejected: Vec<String> },
}

fn fingerprint_hex(key: &impl KeyDetails) -> String {
    format!("{:X}", key.fingerprint())
}

fn seconds(time: PgpTimestamp) -> i64 {
    i64::from(time.as_secs())
}

fn created(signature: &Signature) -> i64 {
    signature.created().map_or(0, seconds)
}

impl Keyring {
    /// Parses a binary or ASCII-armored keyring.
    pub fn parse(bytes: &[u8]) -> Result<Self, KeyringError> {
        if bytes.iter().all(|b| b.is_ascii_whitespace()) {
            return Err(KeyringError::Empty);
        }
        let binary = if bytes[0] & 0x80 != 0 {
            bytes.to_vec()
        } else {
            let mut dearmor = pgp::armor::Dearmor::new(std::io::BufReader::new(bytes));
            let mut out = Vec::new();
            std::io::Read::read_to_end(&mut dearmor, &mut out)
                .map_err(|e| KeyringError::Malformed(e.to_string()))?;
            out
        };
        // rpgp's key parser silently skips packets it does not expect (a secret key appended
        // to a keyring would vanish); scan the raw packets first.
        let mut primaries = 0;
        for packet in PacketParser::new(&binary[..]) {
            let packet = packet.map_err(|e| KeyringError::Malformed(short(&e.to_string())))?;
            match packet.tag() {
                Tag::SecretKey | Tag::SecretSubkey => return Err(KeyringError::Secret),
                Tag::PublicKey => primaries += 1,
                _ => {}
            }
        }
        let (keys, _) = PublicOrSecret::from_reader_many(&binary[..])
            .map_err(|e| KeyringError::Malformed(short(&e.to_string())))?;
        let mut out = Vec::new();
        for key in keys {
            match key.map_err(|e| KeyringError::Malformed(short(&e.to_string())))? {
                PublicOrSecret::Public(key) => out.push(key),
                PublicOrSecret::Secret(_) => return Err(KeyringError::Secret),
            }
        }
        if out.is_empty() {
            return Err(KeyringError::Empty);
        }
        if out.len() != primaries {
            return Err(KeyringError::Malformed(format!(
                "{primaries} primary keys but {} certificates",
                out.len()
            )));
        }
        Ok(Keyring {
            keys: out,
            checked: Checked::default(),
        })
    }

    /// The outcome of `check` on `signature`, one of the keyring's own, computed once.
    fn checked(
        &self,
        signature: &Signature,
        kind: Check,
        check: impl FnOnce() -> Result<(), String>,
    ) -> Result<(), String> {
        // The signature lives in `self.keys`, which nothing changes: its address names it.
        let key = (std::ptr::from_ref(signature) as usize, kind);
        // A poisoned lock only means another thread panicked: the outcomes in it are whole.
        let known = (self.checked.0.lock())
            .unwrap_or_else(|e| e.into_inner())
            .get(&key)
            .cloned();
        if let Some(outcome) = known {
            return outcome;
        }
        let outcome = check();
        (self.checked.0.lock())
            .unwrap_or_else(|e| e.into_inner())
            .insert(key, outcome.clone());
        outcome
    }

    /// Fingerprints of the primary keys, for messages.
    pub fn fingerprints(&self) -> Vec<String> {
        self.keys
            .iter()
            .map(|k| fingerprint_hex(&k.primary_key))
            .collect()
    }
}

/// rpgp parse errors can embed the raw input; keep messages to one readable line.
fn short(text: &str) -> String {
    let line = text.lines().next().unwrap_or("");
    line.chars().take(200).collect()
}

/// A key that may have made a signature.
enum Signer<'a> {
    Primary(&'a SignedPublicKey),
    Subkey(&'a SignedPublicKey, &'a SignedPublicSubKey),
}

impl Signer<'_> {
    fn key_hex(&self) -> String {
        match self {
            Signer::Primary(cert) => fingerprint_hex(&cert.primary_key),
            Signer::Subkey(_, sub) => fingerprint_hex(&sub.key),
        }
    }

    fn primary_hex(&self) -> String {
        match self {
            Signer::Primary(cert) | Signer::Subkey(cert, _) => fingerprint_hex(&cert.primary_key),
        }
    }

    fn verify(&self, signature: &Signature, text: &[u8]) -> Result<(), String> {
        let result = match self {
            Signer::Primary(cert) => signature.verify(&cert.primary_key, text),
            Signer::Subkey(_, sub) => signature.verify(&sub.key, text),
        };
        result.map_err(|e| short(&e.to_string()))
    }

    fn valid_at(&self, keyring: &Keyring, time: i64) -> Result<(), String> {
        match self {
            Signer::Primary(cert) => primary_valid_at(keyring, cert, time, true),
            Signer::Subkey(cert, sub) => subkey_valid_at(keyring, cert, sub, time),
        }
    }
}

fn issuer_matches(signature: &Signature, key: &impl KeyDetails) -> bool {
    let fingerprints = signature.issuer_fingerprint();
    if !fingerprints.is_empty() {
        return fingerprints.iter().any(|f| **f == key.fingerprint());
    }
    signature
        .issuer_key_id()
        .iter()
        .any(|id| **id == key.legacy_key_id())
}

fn signers<'a>(keyring: &'a Keyring, signature: &Signature) -> Vec<Signer<'a>> {
    let mut found = Vec::new();
    for cert in &keyring.keys {
        if issuer_matches(signature, &cert.primary_key) {
            found.push(Signer::Primary(cert));
        }
        for sub in &cert.public_subkeys {
            if issuer_matches(signature, &sub.key) {
                found.push(Signer::Subkey(cert, sub));
            }
        }
    }
    found
}

/// RFC 9580 §5.2.3.31: "superseded" and "retired" revocations take effect at their date; any
/// other reason (or none) means the key must not be trusted at any time.
fn revocation_applies(revocation: &Signature, time: i64) -> bool {
    let soft = matches!(
        revocation.revocation_reason_code(),
        Some(RevocationCode::KeySuperseded) | Some(RevocationCode::KeyRetired)
    );
    !soft || created(revocation) <= time
}

fn not_expired(
    key_created: PgpTimestamp,
    binding: &Signature,
    time: i64,
    what: &str,
) -> Result<(), String> {
    if let Some(lifetime) = binding.key_expiration_time()
        && lifetime.as_secs() != 0
    {
        let expiry = seconds(key_created) + i64::from(lifetime.as_secs());
        if time >= expiry {
            return Err(format!("{what} expired at {}", Timestamp(expiry)));
        }
    }
    if let Some(lifetime) = binding.signature_expiration_time()
        && lifetime.as_secs() != 0
        && time >= created(binding) + i64::from(lifetime.as_secs())
    {
        return Err(format!("the self-signature of the {what} expired"));
    }
    Ok(())
}

fn primary_valid_at(
    keyring: &Keyring,
    cert: &SignedPublicKey,
    time: i64,
    signs: bool,
) -> Result<(), String> {
    let key_signed = |s: &Signature| {
        keyring
            .checked(s, Check::Key, || {
                s.verify_key(&cert.primary_key).map_err(|e| e.to_string())
            })
            .is_ok()
    };
    let primary = &cert.primary_key;
    if seconds(primary.created_at()) > time {
        return Err(format!(
            "primary key did not exist yet at {}",
            Timestamp(time)
        ));
    }
    if cert
        .details
        .revocation_signatures
        .iter()
        .any(|r| key_signed(r) && revocation_applies(r, time))
    {
        return Err("primary key is revoked".into());
    }
    // The self-signature in force at `time`: the newest verified direct-key signature that
    // states an expiry, else the newest verified self-certification of a user ID. Debian's keys
    // also carry third-party certifications, which are not self-signatures and are skipped.
    let direct = cert
        .details
        .direct_signatures
        .iter()
        .filter(|s| s.typ() == Some(SignatureType::Key) && issuer_matches(s, primary))
        .filter(|s| created(s) <= time && s.key_expiration_time().is_some())
        .filter(|s| key_signed(s))
        .max_by_key(|s| created(s));
    let user_id = cert
        .details
        .users
        .iter()
        .flat_map(|user| user.signatures.iter().map(move |s| (user, s)))
        .filter(|(_, s)| s.is_certification() && s.typ() != Some(SignatureType::CertRevocation))
        .filter(|(_, s)| issuer_matches(s, primary) && created(s) <= time)
        .filter(|(user, s)| {
            keyring
                .checked(s, Check::Certification, || {
                    s.verify_certification(primary, Tag::UserId, &user.id)
                        .map_err(|e| e.to_string())
                })
                .is_ok()
        })
        .max_by_key(|(_, s)| (s.is_primary(), created(s)))
        .map(|(_, s)| s);
    let binding = direct.or(user_id).ok_or_else(|| {
        format!(
            "primary key has no valid self-signature at {}",
            Timestamp(time)
        )
    })?;
    not_expired(primary.created_at(), binding, time, "primary key")?;
    if signs {
        let flags_from = user_id.unwrap_or(binding);
        let has_flags = flags_from.config().is_some_and(|c| {
            c.hashed_subpackets()
                .any(|p| matches!(p.data, SubpacketData::KeyFlags(_)))
        });
        if has_flags && !flags_from.key_flags().sign() {
            return Err("primary key may not make signatures (no signing flag)".into());
        }
    }
    Ok(())
}

fn subkey_valid_at(
    keyring: &Keyring,
    cert: &SignedPublicKey,
    sub: &SignedPublicSubKey,
    time: i64,
) -> Result<(), String> {
    let bound = |s: &Signature| {
        keyring
            .checked(s, Check::SubkeyBinding, || {
                s.verify_subkey_binding(&cert.primary_key, &sub.key)
                    .map_err(|e| e.to_string())
            })
            .is_ok()
    };
    primary_valid_at(keyring, cert, time, false)?;
    if seconds(sub.key.created_at()) > time {
        return Err(format!("subkey did not exist yet at {}", Timestamp(time)));
    }
    if sub.signatures.iter().any(|r| {
        r.typ() == Some(SignatureType::SubkeyRevocation) && bound(r) && revocation_applies(r, time)
    }) {
        return Err("subkey is revoked".into());
    }
    let binding = sub
        .signatures
        .iter()
        .filter(|s| s.typ() == Some(SignatureType::SubkeyBinding) && created(s) <= time)
        .filter(|s| bound(s))
        .max_by_key(|s| created(s))
        .ok_or_else(|| {
            format!(
                "subkey has no valid binding to its primary key at {}",
                Timestamp(time)
            )
        })?;
    if !binding.key_flags().sign() {
        return Err("subkey may not make signatures (no signing flag)".into());
    }
    let back = binding
        .embedded_signature()
        .ok_or("signing subkey has no back-signature")?;
    keyring
        .checked(back, Check::PrimaryKeyBinding, || {
            back.verify_primary_key_binding(&sub.key, &cert.primary_key)
                .map_err(|e| short(&e.to_string()))
        })
        .map_err(|e| format!("subkey back-signature is invalid: {e}"))?;
    not_expired(sub.key.created_at(), binding, time, "subkey")
}

fn strong_enough(hash: HashAlgorithm) -> bool {
    matches!(
        hash,
        HashAlgorithm::Sha256
            | HashAlgorithm::Sha384
            | HashAlgorithm::Sha512
            | HashAlgorithm::Sha3_256
            | HashAlgorithm::Sha3_512
    )
}

/// Verifies the signatures of `cleartext` against `keyring`, judging key validity at each
/// signature's creation and at `reference` (now, or the snapshot time).
pub fn verify(
    keyring: &Keyring,
    cleartext: &Cleartext,
    reference: Timestamp,
) -> Result<Vec<GoodSignature>, SignatureError> {
    let (signatures, _) = DetachedSignature::from_armor_many_buf(&cleartext.armored_signature[..])
        .map_err(|e| SignatureError::Malformed(short(&e.to_string())))?;
    let signatures: Vec<Signature> = signatures
        .map(|s| s.map(|d| d.signature))
        .collect::<Result<_, _>>()
        .map_err(|e| SignatureError::Malformed(short(&e.to_string())))?;
    if signatures.is_empty() {
        return Err(SignatureError::Malformed("no signature packet".into()));
    }
    let text = cleartext.canonical();
    let mut good = Vec::new();
    let mut rejected = Vec::new();
    for signature in &signatures {
        let issuer = signature
            .issuer_fingerprint()
            .first()
            .map(|f| format!("{f:X}"))
            .or_else(|| {
                signature
                    .issuer_key_id()
                    .first()
                    .map(|k| k.to_string().to_uppercase())
            })
            .unwrap_or_else(|| "(no issuer)".into());
        let candidates = signers(keyring, signature);
        if candidates.is_empty() {
            rejected.push(format!("{issuer}: not in the keyring"));
            continue;
        }
        // Cryptography first: a signature by one of our keys that does not verify is fatal.
        let Some(signer) = candidates
            .iter()
            .find(|s| s.verify(signature, &text).is_ok())
        else {
            let reason = candidates[0]
                .verify(signature, &text)
                .err()
                .unwrap_or_default();
            return Err(SignatureError::Bad {
                key: issuer,
                reason,
            });
        };
        let key = signer.key_hex();
        let verdict = (|| {
            if signature.typ() != Some(SignatureType::Text) {
                return Err(format!("not a text signature (type {:?})", signature.typ()));
            }
            let hash = signature.hash_alg().ok_or("unknown hash algorithm")?;
            if !strong_enough(hash) {
                return Err(format!("weak hash algorithm {hash}"));
            }
            let announced = cleartext
                .hash_headers
                .iter()
                .any(|h| h.eq_ignore_ascii_case(&hash.to_string()));
            if !announced {
                return Err(format!(
                    "hash {hash} is not announced by the `Hash:` header"
                ));
            }
            let made = created(signature);
            if signature.created().is_none() {
                return Err("signature has no creation time".into());
            }
            if made > reference.0 + MAX_FUTURE_SECONDS {
                return Err(format!(
                    "signature made at {} is later than {reference}",
                    Timestamp(made)
                ));
            }
            signer
                .valid_at(keyring, made)
                .map_err(|e| format!("when it signed, at {}: {e}", Timestamp(made)))?;
            signer
                .valid_at(keyring, reference.0)
                .map_err(|e| format!("at {reference}: {e}"))?;
            Ok(Timestamp(made))
        })();
        match verdict {
            Ok(created) => good.push(GoodSignature {
                key,
                primary: signer.primary_hex(),
                created,
            }),
            Err(reason) => rejected.push(format!("{key}: {reason}")),
        }
    }
    if good.is_empty() {
        return Err(SignatureError::NoTrustedSignature { rejected });
    }
    Ok(good)
}
