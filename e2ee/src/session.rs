//! The device's login on disk: `session.json` in `[bots] e2ee_dir`, readable by Relais only,
//! next to one directory per device holding its crypto store and sync position.

use std::{
    fs,
    io::Write,
    os::unix::fs::{OpenOptionsExt, PermissionsExt},
    path::Path,
};

use matrix_sdk_common::ruma::{OwnedDeviceId, OwnedUserId, UserId};

use relais_appservice::client::DeviceLogin;

use crate::DeviceError;

const SESSION_FILE: &str = "session.json";

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> DeviceError + '_ {
    move |error| DeviceError::Io { path: path.to_owned(), error }
}

/// Creates `dir` if needed, readable by this user only (it holds keys and a token).
pub(crate) fn ensure_private_dir(dir: &Path) -> Result<(), DeviceError> {
    fs::create_dir_all(dir).map_err(io(dir))?;
    fs::set_permissions(dir, fs::Permissions::from_mode(0o700)).map_err(io(dir))
}

/// Whether a device's crypto store is there (its directory holds files).
pub(crate) fn has_store(device_dir: &Path) -> bool {
    fs::read_dir(device_dir).map(|mut entries| entries.next().is_some()).unwrap_or(false)
}

/// The saved login, if a device was logged in before.
pub(crate) fn load(dir: &Path) -> Result<Option<DeviceLogin>, DeviceError> {
    let path = dir.join(SESSION_FILE);
    match fs::read(&path) {
        Ok(bytes) => serde_json::from_slice(&bytes)
            .map(Some)
            .map_err(|e| DeviceError::Session { path, error: e.to_string() }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(io(&path)(e)),
    }
}

/// Saves `login` atomically (a crash leaves the old file or the new one, never half of one).
pub(crate) fn save(dir: &Path, login: &DeviceLogin) -> Result<(), DeviceError> {
    let json = serde_json::to_vec_pretty(login).map_err(|e| DeviceError::Store(e.to_string()))?;
    write_atomically(&dir.join(SESSION_FILE), &json)
}

/// Writes `bytes` to `path` through a synced temporary file and a rename, mode 0600.
pub(crate) fn write_atomically(path: &Path, bytes: &[u8]) -> Result<(), DeviceError> {
    let tmp = path.with_extension("tmp");
    let mut file = fs::OpenOptions::new()
        .create(true)
        .write(true)
        .truncate(true)
        .mode(0o600)
        .open(&tmp)
        .map_err(io(&tmp))?;
    file.write_all(bytes).map_err(io(&tmp))?;
    file.sync_all().map_err(io(&tmp))?;
    fs::rename(&tmp, path).map_err(io(path))
}

/// The login's ids, typed.
pub(crate) fn ids(dir: &Path, login: &DeviceLogin) -> Result<(OwnedUserId, OwnedDeviceId), DeviceError> {
    let user_id = UserId::parse(login.user_id.as_str())
        .map_err(|e| DeviceError::Session { path: dir.join(SESSION_FILE), error: e.to_string() })?;
    Ok((user_id, OwnedDeviceId::from(login.device_id.as_str())))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_saved_login_loads_back_and_a_broken_one_is_refused() {
        let dir = tempfile::tempdir().expect("tempdir");
        assert!(load(dir.path()).expect("load").is_none());
        let login = DeviceLogin {
            user_id: "@relais:pcf.test".into(),
            device_id: "ABCDEF".into(),
            access_token: "syt_secret".into(),
            logged_in_at_ms: 7,
        };
        save(dir.path(), &login).expect("save");
        let back = load(dir.path()).expect("load").expect("some");
        assert_eq!((back.user_id.as_str(), back.device_id.as_str()), ("@relais:pcf.test", "ABCDEF"));
        assert_eq!(back.logged_in_at_ms, 7);
        let mode = fs::metadata(dir.path().join(SESSION_FILE)).expect("meta").permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        assert!(!format!("{back:?}").contains("syt_secret"), "the token never reaches a log");
        fs::write(dir.path().join(SESSION_FILE), b"{").expect("write");
        let error = load(dir.path()).expect_err("broken");
        assert!(error.to_string().contains("move it away"), "{error}");
    }
}
