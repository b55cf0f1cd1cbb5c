//! Reading a caller's attachment file, and the content type it is sent with.
use crate::{MapiCode, MapiError, Result};
use std::io::Read;
use std::path::Path;

/// The largest file attached; larger ones are refused before anything is read.
pub const MAX_ATTACHMENT_BYTES: u64 = 2 * 1024 * 1024 * 1024;

/// Guesses a content type from the shown name, then the path. `message/*` and `multipart/*`
/// become `application/octet-stream`: those types may not be base64-encoded (RFC 2046 §5.2.1)
/// and a caller's file is not guaranteed to be valid 7-bit MIME.
pub fn content_type_for(file_name: &str, path: &Path) -> String {
    let guess = mime_guess::from_path(file_name)
        .first()
        .or_else(|| mime_guess::from_path(path).first());
    match guess {
        Some(m) if m.type_() != "message" && m.type_() != "multipart" => {
            m.essence_str().to_string()
        }
        _ => "application/octet-stream".to_string(),
    }
}

/// Reads a whole regular file now, before the caller can delete it. Directories, devices and
/// pipes are refused before anything is read, so they can neither block nor stream forever.
pub fn read_regular_file(path: &Path) -> Result<Vec<u8>> {
    let shown = path.display();
    let not_regular = || {
        MapiError::new(
            MapiCode::AttachmentOpenFailure,
            format!("{shown} is not a regular file"),
        )
    };
    let meta = std::fs::metadata(path).map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => {
            MapiError::new(MapiCode::AttachmentNotFound, format!("{shown}: not found"))
        }
        _ => MapiError::new(MapiCode::AttachmentOpenFailure, format!("{shown}: {e}")),
    })?;
    if !meta.is_file() {
        return Err(not_regular());
    }
    let mut options = std::fs::OpenOptions::new();
    options.read(true);
    #[cfg(unix)]
    {
        // Should the path be swapped for a FIFO after the check, opening it must not block.
        use std::os::unix::fs::OpenOptionsExt;
        options.custom_flags(libc::O_NONBLOCK);
    }
    let file = options
        .open(path)
        .map_err(|e| MapiError::new(MapiCode::AttachmentOpenFailure, format!("{shown}: {e}")))?;
    let meta = file
        .metadata()
        .map_err(|e| MapiError::new(MapiCode::AttachmentOpenFailure, format!("{shown}: {e}")))?;
    if !meta.is_file() {
        return Err(not_regular());
    }
    if meta.len() > MAX_ATTACHMENT_BYTES {
        return Err(MapiError::new(
            MapiCode::AttachmentTooLarge,
            format!(
                "{shown}: {} bytes (limit {MAX_ATTACHMENT_BYTES})",
                meta.len()
            ),
        ));
    }
    let mut data = Vec::new();
    data.try_reserve_exact(meta.len() as usize).map_err(|_| {
        MapiError::new(
            MapiCode::InsufficientMemory,
            format!("{shown}: cannot hold {} bytes", meta.len()),
        )
    })?;
    file.take(MAX_ATTACHMENT_BYTES + 1)
        .read_to_end(&mut data)
        .map_err(|e| MapiError::new(MapiCode::AttachmentOpenFailure, format!("{shown}: {e}")))?;
    if data.len() as u64 > MAX_ATTACHMENT_BYTES {
        return Err(MapiError::new(
            MapiCode::AttachmentTooLarge,
            format!("{shown}: grew past the limit while read"),
        ));
    }
    Ok(data)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn eml_attachments_are_not_message_rfc822() {
        assert_eq!(
            content_type_for("forward.eml", Path::new("x")),
            "application/octet-stream"
        );
        assert_eq!(
            content_type_for("noext", Path::new("/tmp/x.png")),
            "image/png"
        );
    }
}
