//! The master secret and the keys derived from it, one per purpose (HKDF-SHA256, RFC 5869).
//!
//! Ballot links, the minutes' signing key, the statistics' member hashes and the mail bridge's
//! signed addresses each use their own key, derived from one master secret that lives only in
//! Relais's key file (or the environment) — not in Synapse's registration file, its backups or
//! the configuration. Rotating the appservice token therefore changes none of them. The file is
//! created on first run (32 random bytes, hex, mode 0600); losing it invalidates pending ballot
//! links and reply addresses and changes the minutes' public key, so it is backed up with the
//! database (docs/security.md).

use std::{
    fmt,
    io::Write,
    path::{Path, PathBuf},
    sync::Arc,
};

use hkdf::Hkdf;
use sha2::Sha256;

use crate::Secret;

/// What a derived key is for. Each purpose has its own key: one leaking says nothing of another.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyPurpose {
    /// Secret-ballot tokens (`/relais/vote/{token}`).
    BallotLinks,
    /// The Ed25519 seed signing congress minutes.
    Minutes,
    /// Keyed hashes of members in broadcast statistics.
    StatsMembers,
    /// The mail bridge's signed reply, return-path, unsubscribe and media addresses.
    MailAddresses,
}

impl KeyPurpose {
    const ALL: [Self; 4] = [Self::BallotLinks, Self::Minutes, Self::StatsMembers, Self::MailAddresses];

    fn index(self) -> usize {
        match self {
            Self::BallotLinks => 0,
            Self::Minutes => 1,
            Self::StatsMembers => 2,
            Self::MailAddresses => 3,
        }
    }

    fn info(self) -> &'static [u8] {
        match self {
            Self::BallotLinks => b"relais/ballot-links/v1",
            Self::Minutes => b"relais/minutes-signing/v1",
            Self::StatsMembers => b"relais/stats-members/v1",
            Self::MailAddresses => b"relais/mail-addresses/v1",
        }
    }
}

/// Why the master secret could not be read or created.
#[derive(Debug, thiserror::Error)]
pub enum KeyFileError {
    #[error("cannot read or create the master key file {path}: {source}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("the master key {origin} is not 64 hexadecimal characters (32 bytes)")]
    Malformed { origin: String },
}

/// The master secret (32 bytes) and the keys derived from it once, when it is read (a member's
/// statistics hash is computed per read receipt). Prints as `[redacted]`; cheap to clone.
#[derive(Clone)]
pub struct MasterKey(Arc<Keys>);

struct Keys {
    master: [u8; 32],
    derived: [Secret; 4],
}

impl fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("MasterKey([redacted])")
    }
}

impl MasterKey {
    /// A fresh random key: what a configuration gets until its key file is loaded, so that a
    /// configuration built without one never falls back to a predictable or shared secret.
    pub fn random() -> Self {
        Self::from_bytes(rand::random())
    }

    /// Reads 64 hexadecimal characters (surrounding whitespace ignored); `origin` names where
    /// they came from in the error.
    pub fn from_hex(text: &str, origin: &str) -> Result<Self, KeyFileError> {
        let malformed = || KeyFileError::Malformed { origin: origin.to_owned() };
        let text = text.trim();
        if text.len() != 64 {
            return Err(malformed());
        }
        let mut bytes = [0u8; 32];
        for (i, byte) in bytes.iter_mut().enumerate() {
            let pair = text.get(2 * i..2 * i + 2).ok_or_else(malformed)?;
            *byte = u8::from_str_radix(pair, 16).map_err(|_| malformed())?;
        }
        Ok(Self::from_bytes(bytes))
    }

    /// Reads the key file at `path`, creating it (random, mode 0600) when it does not exist.
    /// Two processes starting at once end up with the same key: the file is created exclusively
    /// and the loser reads the winner's.
    pub fn load_or_create(path: &Path) -> Result<Self, KeyFileError> {
        let io = |source| KeyFileError::Io { path: path.display().to_string(), source };
        match std::fs::read_to_string(path) {
            Ok(text) => return Self::from_hex(&text, &path.display().to_string()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(io(e)),
        }
        let key = Self::random();
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            options.mode(0o600);
        }
        match options.open(path) {
            Ok(mut file) => {
                file.write_all(format!("{}\n", key.to_hex()).as_bytes()).map_err(io)?;
                file.sync_all().map_err(io)?;
                tracing::info!(path = %path.display(), "created the master key file; back it up with the database");
                Ok(key)
            }
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                let text = std::fs::read_to_string(path).map_err(io)?;
                Self::from_hex(&text, &path.display().to_string())
            }
            Err(e) => Err(io(e)),
        }
    }

    fn from_bytes(master: [u8; 32]) -> Self {
        let hkdf = Hkdf::<Sha256>::new(Some(b"relais master key"), &master);
        let derived = KeyPurpose::ALL.map(|purpose| {
            let mut okm = [0u8; 32];
            #[allow(clippy::expect_used)]
            hkdf.expand(purpose.info(), &mut okm)
                .expect("32 bytes is far below HKDF-SHA256's limit of 255 × 32");
            Secret::new(okm.iter().map(|b| format!("{b:02x}")).collect::<String>())
        });
        Self(Arc::new(Keys { master, derived }))
    }

    fn to_hex(&self) -> String {
        self.0.master.iter().map(|b| format!("{b:02x}")).collect()
    }

    /// The key for `purpose`: 32 bytes from HKDF-SHA256, as 64 hexadecimal characters.
    pub fn derive(&self, purpose: KeyPurpose) -> Secret {
        self.0.derived[purpose.index()].clone()
    }
}

/// Where the key file is: `path` as configured, relative paths taken from the configuration
/// file's directory.
pub fn resolve(path: &Path, config_file: &Path) -> PathBuf {
    if path.is_absolute() {
        return path.to_owned();
    }
    config_file.parent().map_or_else(|| path.to_owned(), |dir| dir.join(path))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_purpose_has_its_own_stable_key() {
        let master = MasterKey::from_hex(&"ab".repeat(32), "test").expect("hex");
        let keys: Vec<String> = [
            KeyPurpose::BallotLinks,
            KeyPurpose::Minutes,
            KeyPurpose::StatsMembers,
            KeyPurpose::MailAddresses,
        ]
        .into_iter()
        .map(|p| master.derive(p).expose().to_owned())
        .collect();
        for (i, a) in keys.iter().enumerate() {
            assert_eq!(a.len(), 64);
            assert!(keys[i + 1..].iter().all(|b| a != b), "purposes share no key");
        }
        let again = MasterKey::from_hex(&"ab".repeat(32), "test").expect("hex");
        assert_eq!(again.derive(KeyPurpose::Minutes).expose(), keys[1], "derivation is stable");
        let other = MasterKey::from_hex(&"cd".repeat(32), "test").expect("hex");
        assert_ne!(other.derive(KeyPurpose::Minutes).expose(), keys[1]);
        assert_eq!(format!("{master:?}"), "MasterKey([redacted])");
    }

    #[test]
    fn the_cached_keys_are_hkdf_of_each_purpose() {
        let master = MasterKey::from_hex(&"5a".repeat(32), "test").expect("hex");
        let hkdf = Hkdf::<Sha256>::new(Some(b"relais master key"), &[0x5a; 32]);
        for purpose in KeyPurpose::ALL {
            let mut okm = [0u8; 32];
            hkdf.expand(purpose.info(), &mut okm).expect("expand");
            let hex: String = okm.iter().map(|b| format!("{b:02x}")).collect();
            assert_eq!(master.derive(purpose).expose(), hex, "{purpose:?}");
        }
    }

    #[test]
    fn malformed_keys_are_refused() {
        for bad in ["", "abc", &"zz".repeat(32), &"ab".repeat(33)] {
            assert!(matches!(MasterKey::from_hex(bad, "x"), Err(KeyFileError::Malformed { .. })), "{bad}");
        }
    }

    #[test]
    fn the_key_file_is_created_once_private_and_read_back() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("relais.key");
        let created = MasterKey::load_or_create(&path).expect("created");
        let read = MasterKey::load_or_create(&path).expect("read");
        assert_eq!(
            created.derive(KeyPurpose::BallotLinks).expose(),
            read.derive(KeyPurpose::BallotLinks).expose()
        );
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).expect("meta").permissions().mode();
            assert_eq!(mode & 0o777, 0o600, "only the owner reads it");
        }
        std::fs::write(&path, "not a key").expect("write");
        assert!(matches!(MasterKey::load_or_create(&path), Err(KeyFileError::Malformed { .. })));
        assert_eq!(
            resolve(Path::new("relais.key"), Path::new("/etc/relais/relais.toml")),
            Path::new("/etc/relais/relais.key")
        );
        assert_eq!(resolve(Path::new("/var/lib/k"), Path::new("relais.toml")), Path::new("/var/lib/k"));
    }
}
