//! Reading a caller's attachment file, and the content type it is sent with.
use crate::files::{self, Links, ReadError};
use crate::{Attachment, MapiCode, MapiError, Result, text};
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

/// The attachment a file makes, read now: shown as `shown` (made a bare file name), else
/// the path's own name, else `attachment`. Every send and the compose window's Add use it.
pub fn read_attachment(path: &Path, shown: &str) -> Result<Attachment> {
    let mut file_name = text::bare_file_name(shown);
    if file_name.is_empty() {
        file_name = text::bare_file_name(
            &path
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default(),
        );
    }
    if file_name.is_empty() {
        file_name = "attachment".to_string();
    }
    let data = read_regular_file(path)?;
    Ok(Attachment {
        content_type: content_type_for(&file_name, path),
        file_name,
        data,
        source: path.to_path_buf(),
    })
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
    // Opened as a regular file (checked again on the handle, should the path be swapped
    // for a FIFO after the check) and read within the cap.
    let mut file = files::open_regular(path, Links::Follow).map_err(|e| match e.kind() {
        std::io::ErrorKind::InvalidInput => not_regular(),
        _ => MapiError::new(MapiCode::AttachmentOpenFailure, format!("{shown}: {e}")),
    })?;
    files::read_capped(&mut file, MAX_ATTACHMENT_BYTES).map_err(|e| {
        let code = match e {
            ReadError::TooLarge { .. } => MapiCode::AttachmentTooLarge,
            ReadError::NoMemory(_) => MapiCode::InsufficientMemory,
            ReadError::Io(_) => MapiCode::AttachmentOpenFailure,
        };
        MapiError::new(code, format!("{shown}: {e}"))
    })
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
