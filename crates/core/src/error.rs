//! Errors carry the Simple MAPI return code the caller will see, plus a detail for the log.
use mapishim_abi as abi;
use std::fmt;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MapiError {
    code: u32,
    detail: String,
}

pub type Result<T, E = MapiError> = std::result::Result<T, E>;

impl MapiError {
    pub fn new(code: u32, detail: impl Into<String>) -> Self {
        debug_assert!(code != abi::SUCCESS_SUCCESS);
        Self {
            code,
            detail: detail.into(),
        }
    }
    pub fn code(&self) -> u32 {
        self.code
    }
    pub fn detail(&self) -> &str {
        &self.detail
    }
    /// The SDK name of the code, for log lines admins can search for.
    pub fn code_name(&self) -> &'static str {
        code_name(self.code)
    }
    pub fn failure(detail: impl Into<String>) -> Self {
        Self::new(abi::MAPI_E_FAILURE, detail)
    }
    /// Maps a file-system error while storing a message.
    pub fn from_store_io(err: &std::io::Error, what: &str) -> Self {
        use std::io::ErrorKind::*;
        let code = match err.kind() {
            StorageFull | QuotaExceeded => abi::MAPI_E_DISK_FULL,
            PermissionDenied | ReadOnlyFilesystem => abi::MAPI_E_ACCESS_DENIED,
            OutOfMemory => abi::MAPI_E_INSUFFICIENT_MEMORY,
            _ => abi::MAPI_E_FAILURE,
        };
        Self::new(code, format!("{what}: {err}"))
    }
}

/// The first SDK name for a return code.
pub fn code_name(code: u32) -> &'static str {
    abi::CONSTANT_GROUPS
        .iter()
        .filter(|g| g.title == "Return codes")
        .flat_map(|g| g.constants.iter())
        .find(|(_, text)| text.parse::<u32>().ok() == Some(code))
        .map(|(name, _)| *name)
        .unwrap_or("MAPI_E_UNKNOWN_CODE")
}

impl fmt::Display for MapiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({}): {}", self.code_name(), self.code, self.detail)
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
        let e = MapiError::new(abi::MAPI_E_BAD_RECIPTYPE, "class 9");
        assert_eq!(e.to_string(), "MAPI_E_BAD_RECIPTYPE (15): class 9");
    }
}
