//! The token file's content at rest. Unix: the file itself is private (0600 in a 0700
//! folder). Windows: the content is encrypted with DPAPI for the current user
//! (`CryptProtectData`), so a copied file is useless to another account or machine.

#[cfg(not(windows))]
pub fn seal(clear: &[u8]) -> std::io::Result<Vec<u8>> {
    Ok(clear.to_vec())
}

#[cfg(not(windows))]
pub fn open(stored: &[u8]) -> std::io::Result<Vec<u8>> {
    Ok(stored.to_vec())
}

#[cfg(windows)]
pub use mapishim_ffi::windows::dpapi::{open, seal};
