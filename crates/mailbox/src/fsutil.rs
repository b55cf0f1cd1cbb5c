//! File-system helpers that never follow a symlink out of a folder and never block.
use mapishim_core::{MapiCode, MapiError, Result};
use std::fs::{File, OpenOptions};
use std::io::{self, Read};
use std::path::Path;

/// Opens a regular file for reading. Symlinks are refused (`O_NOFOLLOW`), and a FIFO or
/// device cannot block the open (`O_NONBLOCK`) or be read (checked on the open handle, so
/// a file swapped in after listing is caught too).
pub(crate) fn open_regular(path: &Path) -> io::Result<File> {
    let mut options = OpenOptions::new();
    options.read(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK);
    }
    #[cfg(windows)]
    {
        use std::os::windows::fs::OpenOptionsExt;
        const FILE_FLAG_OPEN_REPARSE_POINT: u32 = 0x0020_0000;
        options.custom_flags(FILE_FLAG_OPEN_REPARSE_POINT);
    }
    let file = options.open(path)?;
    let meta = file.metadata()?;
    if !meta.is_file() || meta.file_type().is_symlink() {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "not a regular file",
        ));
    }
    Ok(file)
}

/// Reads the whole file, refusing one larger than `limit` before reading anything.
pub(crate) fn read_capped(file: &mut File, limit: u64) -> Result<Vec<u8>> {
    let len = file
        .metadata()
        .map_err(|e| MapiError::from_store_io(&e, "cannot stat message"))?
        .len();
    if len > limit {
        return Err(MapiError::new(
            MapiCode::InsufficientMemory,
            format!("message is {len} bytes; the limit is {limit}"),
        ));
    }
    let mut data = Vec::with_capacity(len as usize);
    // `take` guards against a file that grows while it is read.
    (&mut *file)
        .take(limit + 1)
        .read_to_end(&mut data)
        .map_err(|e| MapiError::from_store_io(&e, "cannot read message"))?;
    if data.len() as u64 > limit {
        return Err(MapiError::new(
            MapiCode::InsufficientMemory,
            format!("message grew past the limit of {limit} bytes"),
        ));
    }
    Ok(data)
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

/// Opens a new file that must not exist yet, readable by its owner only.
pub(crate) fn create_new_private(path: &Path) -> io::Result<File> {
    let mut options = OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    options.open(path)
}

/// Makes a rename durable. Windows has no directory handles for this; NTFS journals it.
pub(crate) fn sync_dir(dir: &Path) {
    #[cfg(unix)]
    if let Ok(handle) = File::open(dir) {
        let _ = handle.sync_all();
    }
    #[cfg(not(unix))]
    let _ = dir;
}

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
