//! OpenPGP keys and signatures for the fixture repositories, generated deterministically.
//!
//! Every key is built from a fixed seed with fixed creation times, so the keys, and every
//! signature they make at a fixed time, are the same bytes on every machine and every day.

use std::sync::OnceLock;

use pgp::composed::{
    DetachedSignature, KeyType, SignedKeyDetails, SignedSecretKey, SignedSecretSubKey,
};
use pgp::crypto::hash::HashAlgorithm;
use pgp::packet::{
    self, KeyFlags, PubKeyInner, RevocationCode, Signature, SignatureConfig, SignatureType,
    Subpacket, SubpacketData, UserId,
};
use pgp::ser::Serialize;
use pgp::types::{Duration, KeyDetails, KeyVersion, Password, SigningKey, Tag, Timestamp};
use rand::SeedableRng;
use rand_chacha::ChaCha20Rng;

/// 2020-01-01T00:00:00Z: when every test key is made.
pub const KEY_CREATED: u32 = 1_577_836_800;
/// 2021-01-01T00:00:00Z: when the `expired` key expires.
pub const EXPIRED_AT: u32 = 1_609_459_200;

/// The keys of the fixtures.
pub struct Keys {
    /// Ed25519 primary with an Ed25519 signing subkey: the repository key tests trust.
    pub trusted: SignedSecretKey,
    /// Another good key that is not in the test keyring.
    pub untrusted: SignedSecretKey,
    /// Signs with its primary; expired at [`EXPIRED_AT`].
    pub expired: SignedSecretKey,
    /// Revoked (key compromised).
    pub revoked: SignedSecretKey,
    /// RSA-2048 primary, for SHA-1 signatures (Ed25519 refuses SHA-1).
    pub rsa: SignedSecretKey,
}

fn subpacket(data: SubpacketData) -> Subpacket {
    Subpacket::regular(data).expect("subpacket")
}

fn config(
    kind: SignatureType,
    signer: &impl SigningKey,
    hash: HashAlgorithm,
    time: u32,
) -> SignatureConfig {
    let mut config = SignatureConfig::v4(kind, signer.algorithm(), hash);
    config.hashed_subpackets = vec![
        subpacket(SubpacketData::SignatureCreationTime(Timestamp::from_secs(
            time,
        ))),
        subpacket(SubpacketData::IssuerFingerprint(signer.fingerprint())),
    ];
    config.unhashed_subpackets = vec![subpacket(SubpacketData::IssuerKeyId(
        signer.legacy_key_id(),
    ))];
    config
}

struct Spec {
    key_type: KeyType,
    subkey: bool,
    user_id: &'static str,
    expires_after: Option<u32>,
    revoked_at: Option<u32>,
    seed: u64,
}

fn make_key(spec: Spec) -> SignedSecretKey {
    let mut rng = ChaCha20Rng::seed_from_u64(spec.seed);
    let password = Password::empty();
    let created = Timestamp::from_secs(KEY_CREATED);
    let (public_params, secret_params) = spec.key_type.generate(&mut rng).expect("keygen");
    let inner = PubKeyInner::new(
        KeyVersion::V4,
        spec.key_type.to_alg(),
        created,
        None,
        public_params,
    )
    .expect("key");
    let primary = packet::SecretKey::new(
        packet::PublicKey::from_inner(inner).expect("key"),
        secret_params,
    )
    .expect("key");
    let user_id = UserId::from_str(Default::default(), spec.user_id).expect("uid");
    let mut certification = config(
        SignatureType::CertPositive,
        &primary,
        HashAlgorithm::Sha256,
        KEY_CREATED,
    );
    let mut flags = KeyFlags::default();
    flags.set_certify(true);
    flags.set_sign(true);
    certification
        .hashed_subpackets
        .push(subpacket(SubpacketData::KeyFlags(flags)));
    certification
        .hashed_subpackets
        .push(subpacket(SubpacketData::IsPrimary(true)));
    if let Some(after) = spec.expires_after {
        certification
            .hashed_subpackets
            .push(subpacket(SubpacketData::KeyExpirationTime(
                Duration::from_secs(after),
            )));
    }
    let user_id_signature = certification
        .sign_certification(
            &primary,
            primary.public_key(),
            &password,
            Tag::UserId,
            &user_id,
        )
        .expect("certification");
    let mut revocations = Vec::new();
    if let Some(at) = spec.revoked_at {
        let mut revocation = config(
            SignatureType::KeyRevocation,
            &primary,
            HashAlgorithm::Sha256,
            at,
        );
        revocation
            .hashed_subpackets
            .push(subpacket(SubpacketData::RevocationReason(
                RevocationCode::KeyCompromised,
                "test revocation".into(),
            )));
        revocations.push(
            revocation
                .sign_key(&primary, &password, primary.public_key())
                .expect("revocation"),
        );
    }
    let mut subkeys = Vec::new();
    if spec.subkey {
        let (public_params, secret_params) = spec.key_type.generate(&mut rng).expect("keygen");
        let inner = PubKeyInner::new(
            KeyVersion::V4,
            spec.key_type.to_alg(),
            created,
            None,
            public_params,
        )
        .expect("subkey");
        let sub = packet::SecretSubkey::new(
            packet::PublicSubkey::from_inner(inner).expect("subkey"),
            secret_params,
        )
        .expect("subkey");
        let back = config(
            SignatureType::KeyBinding,
            &sub,
            HashAlgorithm::Sha256,
            KEY_CREATED,
        )
        .sign_primary_key_binding(&sub, sub.public_key(), &password, primary.public_key())
        .expect("back-signature");
        let mut binding = config(
            SignatureType::SubkeyBinding,
            &primary,
            HashAlgorithm::Sha256,
            KEY_CREATED,
        );
        let mut flags = KeyFlags::default();
        flags.set_sign(true);
        binding
            .hashed_subpackets
            .push(subpacket(SubpacketData::KeyFlags(flags)));
        binding
            .hashed_subpackets
            .push(subpacket(SubpacketData::EmbeddedSignature(Box::new(back))));
        let binding = binding
            .sign_subkey_binding(&primary, primary.public_key(), &password, sub.public_key())
            .expect("binding");
        subkeys.push(SignedSecretSubKey::new(sub, vec![binding]));
    }
    let details = SignedKeyDetails::new(
        revocations,
        vec![],
        vec![user_id.into_signed(user_id_signature)],
        vec![],
    );
    SignedSecretKey::new(primary, details, vec![], subkeys)
}

/// The fixture keys (made once per test process).
pub fn keys() -> &'static Keys {
    static KEYS: OnceLock<Keys> = OnceLock::new();
    KEYS.get_or_init(|| Keys {
        trusted: make_key(Spec {
            key_type: KeyType::Ed25519Legacy,
            subkey: true,
            user_id: "debroot test archive <trusted@test.invalid>",
            expires_after: None,
            revoked_at: None,
            seed: 1,
        }),
        untrusted: make_key(Spec {
            key_type: KeyType::Ed25519Legacy,
            subkey: false,
            user_id: "someone else <untrusted@test.invalid>",
            expires_after: None,
            revoked_at: None,
            seed: 2,
        }),
        expired: make_key(Spec {
            key_type: KeyType::Ed25519Legacy,
            subkey: false,
            user_id: "expired archive key <expired@test.invalid>",
            expires_after: Some(EXPIRED_AT - KEY_CREATED),
            revoked_at: None,
            seed: 3,
        }),
        revoked: make_key(Spec {
            key_type: KeyType::Ed25519Legacy,
            subkey: false,
            user_id: "revoked archive key <revoked@test.invalid>",
            expires_after: None,
            revoked_at: Some(KEY_CREATED + 86_400),
            seed: 4,
        }),
        rsa: make_key(Spec {
            key_type: KeyType::Rsa(2048),
            subkey: false,
            user_id: "rsa archive key <rsa@test.invalid>",
            expires_after: None,
            revoked_at: None,
            seed: 5,
        }),
    })
}

/// A binary keyring holding the public parts of `keys`.
pub fn keyring(keys: &[&SignedSecretKey]) -> Vec<u8> {
    let mut out = Vec::new();
    for key in keys {
        key.to_public_key()
            .to_writer(&mut out)
            .expect("serialize key");
    }
    out
}

/// A keyring file holding a secret key (refused by debroot).
pub fn secret_keyring(key: &SignedSecretKey) -> Vec<u8> {
    let mut out = Vec::new();
    key.to_writer(&mut out).expect("serialize key");
    out
}

/// How one signature of a clearsigned file is made.
#[derive(Clone, Copy)]
pub struct SignWith<'a> {
    pub key: &'a SignedSecretKey,
    pub hash: HashAlgorithm,
    pub time: u32,
    pub kind: SignatureType,
    /// Sign other bytes than the message (a cryptographically bad signature).
    pub corrupt: bool,
}

impl<'a> SignWith<'a> {
    pub fn new(key: &'a SignedSecretKey, time: u32) -> Self {
        SignWith {
            key,
            hash: HashAlgorithm::Sha256,
            time,
            kind: SignatureType::Text,
            corrupt: false,
        }
    }
}

fn sign(with: &SignWith<'_>, data: &[u8]) -> Signature {
    let password = Password::empty();
    let data = if with.corrupt {
        b"not the message".as_slice()
    } else {
        data
    };
    // Data signatures come from the signing subkey when there is one, as Debian's do.
    match with.key.secret_subkeys.first() {
        Some(sub) => config(with.kind, &sub.key, with.hash, with.time)
            .sign(&sub.key, &password, data)
            .expect("sign"),
        None => config(with.kind, &with.key.primary_key, with.hash, with.time)
            .sign(&with.key.primary_key, &password, data)
            .expect("sign"),
    }
}

/// The armored block of `signatures` (several signature packets in one block, as Debian's).
pub fn armor(signatures: Vec<Signature>) -> String {
    let detached: Vec<DetachedSignature> =
        signatures.into_iter().map(DetachedSignature::new).collect();
    let mut out = Vec::new();
    pgp::armor::write(
        &detached,
        pgp::armor::BlockType::Signature,
        &mut out,
        None,
        true,
    )
    .expect("armor");
    String::from_utf8(out).expect("armor is ASCII")
}

/// Clearsigns `text` (lines ending in LF) as `gpg --clearsign` does, with one signature per
/// entry of `signers`.
pub fn clearsign(text: &str, signers: &[SignWith<'_>]) -> String {
    let lines: Vec<&str> = text
        .strip_suffix('\n')
        .unwrap_or(text)
        .split('\n')
        .collect();
    let canonical: Vec<u8> = lines
        .iter()
        .map(|l| l.trim_end_matches([' ', '\t']))
        .collect::<Vec<_>>()
        .join("\r\n")
        .into_bytes();
    let signatures: Vec<Signature> = signers.iter().map(|with| sign(with, &canonical)).collect();
    let hashes: std::collections::BTreeSet<String> =
        signers.iter().map(|s| s.hash.to_string()).collect();
    let hashes: Vec<String> = hashes.into_iter().collect();
    let mut out = format!(
        "-----BEGIN PGP SIGNED MESSAGE-----\nHash: {}\n\n",
        hashes.join(",")
    );
    for line in lines {
        if line.starts_with('-') {
            out.push_str("- ");
        }
        out.push_str(line);
        out.push('\n');
    }
    out.push_str(&armor(signatures));
    if !out.ends_with('\n') {
        out.push('\n');
    }
    out
}

/// The fingerprint of a key, upper-case hex.
pub fn fingerprint(key: &SignedSecretKey) -> String {
    format!("{:X}", key.primary_key.fingerprint())
}

/// A keyring with the trusted primary key whose signing subkey is bound by *another* primary
/// (the untrusted key): the shape of "a subkey of a different primary" (docs/THREATS.md A1b).
pub fn forged_subkey_keyring() -> Vec<u8> {
    use pgp::composed::{SignedPublicKey, SignedPublicSubKey};
    let keys = keys();
    let trusted = keys.trusted.to_public_key();
    let sub = &keys.trusted.secret_subkeys[0].key;
    let untrusted = &keys.untrusted.primary_key;
    let password = Password::empty();
    let mut binding = config(
        SignatureType::SubkeyBinding,
        untrusted,
        HashAlgorithm::Sha256,
        KEY_CREATED,
    );
    let mut flags = KeyFlags::default();
    flags.set_sign(true);
    binding
        .hashed_subpackets
        .push(subpacket(SubpacketData::KeyFlags(flags)));
    let binding = binding
        .sign_subkey_binding(
            untrusted,
            untrusted.public_key(),
            &password,
            sub.public_key(),
        )
        .expect("binding");
    let forged = SignedPublicKey::new(
        trusted.primary_key.clone(),
        trusted.details.clone(),
        vec![SignedPublicSubKey::new(
            sub.public_key().clone(),
            vec![binding],
        )],
    );
    let mut out = Vec::new();
    forged.to_writer(&mut out).expect("serialize key");
    out
}
