//! The Maildir's view of core's file promises (`mapishim_core::files`): files found by
//! listing are never followed out of the folder, and header reads stop at the blank line.
use mapishim_core::files::{self, Links, ReadError};
use mapishim_core::{MapiCode, MapiError, Result};
use std::fs::File;
use std::io::{self, Read};
use std::path::Path;

/// A Maildir lists its own files: a symlink among them could point anywhere, so none is
/// followed.
pub(crate) fn open_regular(path: &Path) -> io::Result<File> {
    files::open_regular(path, Links::Refuse)
}

/// Reads the whole file, refusing one larger than `limit` before reading anything.
pub(crate) fn read_capped(file: &mut File, limit: u64) -> Result<Vec<u8>> {
    files::read_capped(file, limit).map_err(|e| match e {
        ReadError::Io(e) => MapiError::from_store_io(&e, "cannot read message"),
        ReadError::TooLarge { len, limit } if len > limit => MapiError::new(
            MapiCode::InsufficientMemory,
            format!("message is {len} bytes; the limit is {limit}"),
        ),
        ReadError::TooLarge { limit, .. } => MapiError::new(
            MapiCode::InsufficientMemory,
            format!("message grew past the limit of {limit} bytes"),
        ),
        ReadError::NoMemory(len) => MapiError::new(
            MapiCode::InsufficientMemory,
            format!("message of {len} bytes: cannot reserve the memory"),
        ),
    })
}

/// Reads up to the blank line that ends the header, at most `limit` bytes.
pub(crate) fn read_head(file: &mut File, limit: usize) -> io::Result<Vec<u8>> {
    const CHUNK: usize = 64 * 1024;
    let mut data = Vec::new();
    loop {
        let want = CHUNK.min(limit - data.len());
        if want == 0 {
            return Ok(data);
        }
        let start = data.len();
        let read = (&mut *file).take(want as u64).read_to_end(&mut data)?;
        if read == 0 {
            return Ok(data);
        }
        // Re-scan a few bytes before the chunk so a blank line split by it is found.
        let from = start.saturating_sub(3);
        if let Some(end) = header_end(&data[from..]) {
            data.truncate(from + end);
            return Ok(data);
        }
    }
}

fn header_end(data: &[u8]) -> Option<usize> {
    data.windows(2)
        .position(|w| w == b"\n\n")
        .map(|p| p + 2)
        .into_iter()
        .chain(
            data.windows(4)
                .position(|w| w == b"\r\n\r\n")
                .map(|p| p + 4),
        )
        .min()
}

pub(crate) use mapishim_core::files::{create_new_private, sync_dir};

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn head_stops_at_the_blank_line_even_across_chunks() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("m");
        let mut header = format!("X-Long: {}\r\n", "a".repeat(64 * 1024 - 12));
        header.push_str("Subject: s\r\n\r\nbody");
        File::create(&path)
            .unwrap()
            .write_all(header.as_bytes())
            .unwrap();
        let head = read_head(&mut open_regular(&path).unwrap(), 1 << 20).unwrap();
        assert!(head.ends_with(b"Subject: s\r\n\r\n"));
        let capped = read_head(&mut open_regular(&path).unwrap(), 1000).unwrap();
        assert_eq!(capped.len(), 1000);
    }

    #[cfg(unix)]
    #[test]
    fn refuses_symlinks_and_folders() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("t");
        std::fs::write(&target, "x").unwrap();
        let link = dir.path().join("l");
        std::os::unix::fs::symlink(&target, &link).unwrap();
        assert!(open_regular(&link).is_err());
        assert!(open_regular(dir.path()).is_err());
        assert!(open_regular(&target).is_ok());
    }
}
