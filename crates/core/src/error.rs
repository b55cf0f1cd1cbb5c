//! Errors carry the Simple MAPI return code the caller will see, plus a detail for the log.
pub use mapishim_abi::MapiCode;
use std::fmt;

/// A refused call: the code the C caller sees and a detail for the log.
///
/// The code is always a [`MapiCode`]:
///
/// ```
/// use mapishim_core::{MapiCode, MapiError};
/// assert_eq!(MapiError::new(MapiCode::Failure, "why").code(), 2);
/// ```
///
/// and a bare integer does not compile:
///
/// ```compile_fail
/// use mapishim_core::{MapiCode, MapiError};
/// MapiError::new(2, "why");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MapiError {
    code: MapiCode,
    detail: String,
}

pub type Result<T, E = MapiError> = std::result::Result<T, E>;

impl MapiError {
    pub fn new(code: MapiCode, detail: impl Into<String>) -> Self {
        debug_assert!(code != MapiCode::Success);
        Self {
            code,
            detail: detail.into(),
        }
    }
    /// The value the C caller sees.
    pub fn code(&self) -> u32 {
        self.code as u32
    }
    pub fn mapi_code(&self) -> MapiCode {
        self.code
    }
    pub fn detail(&self) -> &str {
        &self.detail
    }
    /// The SDK name of the code, for log lines admins can search for.
    pub fn code_name(&self) -> &'static str {
        self.code.name()
    }
    pub fn failure(detail: impl Into<String>) -> Self {
        Self::new(MapiCode::Failure, detail)
    }
    /// Maps a file-system error while storing a message.
    pub fn from_store_io(err: &std::io::Error, what: &str) -> Self {
        use std::io::ErrorKind::*;
        let code = match err.kind() {
            StorageFull | QuotaExceeded => MapiCode::DiskFull,
            PermissionDenied | ReadOnlyFilesystem => MapiCode::AccessDenied,
            OutOfMemory => MapiCode::InsufficientMemory,
            _ => MapiCode::Failure,
        };
        Self::new(code, format!("{what}: {err}"))
    }
}

/// The first SDK name for a return code.
pub fn code_name(code: u32) -> &'static str {
    MapiCode::from_u32(code)
        .map(MapiCode::name)
        .unwrap_or("MAPI_E_UNKNOWN_CODE")
}

impl fmt::Display for MapiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({}): {}", self.code_name(), self.code(), self.detail)
    }
}

impl std::error::Error for MapiError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_codes() {
        assert_eq!(code_name(19), "MAPI_E_INVALID_SESSION");
        assert_eq!(code_name(1), "MAPI_USER_ABORT");
        let e = MapiError::new(MapiCode::BadReciptype, "class 9");
        assert_eq!(e.to_string(), "MAPI_E_BAD_RECIPTYPE (15): class 9");
    }
}
