//! The file-system promises every store keeps, in one place: files holding mail or logs are
//! private (`0600` in `0700` folders on Unix; on Windows they inherit the per-user ACL of
//! the profile folder they live in, see docs/architecture.md), complete files appear only
//! by an atomic rename after an fsync, and what is read is a regular file within a size cap.
use crate::error::{MapiError, Result};
use std::cell::Cell;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

/// Prefix of a file being written; never a complete message (`.eml`) to any reader.
pub const TEMP_PREFIX: &str = ".tmp-";

/// A temporary file older than this was left by a process that died mid-write.
pub const TEMP_MAX_AGE: Duration = Duration::from_secs(3600);

/// Creates `path` and any missing parents readable by their owner only. An existing folder
/// keeps its mode: it is the user's choice.
pub fn create_private_dir_all(path: &Path) -> io::Result<()> {
    let mut builder = fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        builder.mode(0o700);
    }
    builder.create(path)
}

/// Opens a new file that must not exist yet, readable by its owner only.
pub fn create_new_private(path: &Path) -> io::Result<File> {
    let mut options = OpenOptions::new();
    options.write(true).create_new(true);
    private(&mut options);
    options.open(path)
}

/// Opens a file for appending, creating it (and its folder) private when missing.
pub fn open_append_private(path: &Path) -> io::Result<File> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        create_private_dir_all(dir)?;
    }
    let mut options = OpenOptions::new();
    options.create(true).append(true);
    private(&mut options);
    options.open(path)
}

fn private(options: &mut OpenOptions) {
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    #[cfg(not(unix))]
    let _ = options;
}

/// Removes the temporary file unless it was renamed into place.
struct TempGuard<'a>(Option<&'a Path>);

impl Drop for TempGuard<'_> {
    fn drop(&mut self) {
        if let Some(path) = self.0 {
            let _ = fs::remove_file(path);
        }
    }
}

/// Renders into the new private file `temp`, fsyncs it, renames it onto `target` (replacing
/// what is there) and fsyncs the target's folder. On any error nothing is left behind.
/// `temp` must be in the same file system as `target` and not look complete to readers
/// (outboxes use [`TEMP_PREFIX`], Maildirs their `tmp/` folder).
pub fn write_atomically(
    temp: &Path,
    target: &Path,
    render: impl FnOnce(&mut dyn Write) -> io::Result<()>,
) -> Result<()> {
    write_into(temp, target, false, render)
}

/// [`write_atomically`] for a store that makes its folder on first use (outbox, spool,
/// drafts): a missing folder of `temp` is created private (as by [`create_private_dir_all`])
/// when the temporary file cannot be, so that a burst of sends does not pay two system
/// calls per message to make sure of a folder that is there.
pub fn write_atomically_making_folder(
    temp: &Path,
    target: &Path,
    render: impl FnOnce(&mut dyn Write) -> io::Result<()>,
) -> Result<()> {
    write_into(temp, target, true, render)
}

fn write_into(
    temp: &Path,
    target: &Path,
    make_folder: bool,
    render: impl FnOnce(&mut dyn Write) -> io::Result<()>,
) -> Result<()> {
    debug_assert!(temp.extension().is_none_or(|e| e != "eml"));
    let failed = |what: &str, e: io::Error| {
        MapiError::from_store_io(&e, &format!("{what} {}", temp.display()))
    };
    let file = match create_new_private(temp) {
        Err(e) if make_folder && e.kind() == io::ErrorKind::NotFound => {
            let dir = temp.parent().filter(|d| !d.as_os_str().is_empty());
            dir.map_or(Err(e), create_private_dir_all)
                .and_then(|()| create_new_private(temp))
        }
        opened => opened,
    }
    .map_err(|e| failed("cannot create", e))?;
    let mut guard = TempGuard(Some(temp));
    let mut writer = Buffered::new(file);
    let rendered = render(&mut writer).and_then(|()| writer.flush());
    let Buffered { file, buf } = writer;
    WRITE_BUFFER.set(buf);
    rendered.map_err(|e| failed("cannot write", e))?;
    file.sync_all().map_err(|e| failed("cannot flush", e))?;
    drop(file);
    fs::rename(temp, target).map_err(|e| failed("cannot rename", e))?;
    guard.0 = None;
    if let Some(dir) = target.parent() {
        sync_dir(dir);
    }
    Ok(())
}

/// Size of the buffer a message is rendered through: one `write` for typical messages,
/// bounded memory for huge ones.
const WRITE_BUFFER_BYTES: usize = 256 * 1024;

thread_local! {
    /// The buffer is kept per thread between messages: a fresh one each time is handed back
    /// to the system by the allocator and faulted in again, a cost the size of the message.
    static WRITE_BUFFER: Cell<Vec<u8>> = const { Cell::new(Vec::new()) };
}

/// A `BufWriter` over the thread's reused buffer (std's cannot adopt an existing one).
struct Buffered {
    file: File,
    buf: Vec<u8>,
}

impl Buffered {
    fn new(file: File) -> Self {
        let mut buf = WRITE_BUFFER.take();
        buf.clear();
        buf.reserve_exact(WRITE_BUFFER_BYTES);
        Self { file, buf }
    }
}

impl Write for Buffered {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        if self.buf.len() + data.len() > self.buf.capacity() {
            self.flush()?;
        }
        if data.len() >= self.buf.capacity() {
            return self.file.write(data);
        }
        self.buf.extend_from_slice(data);
        Ok(data.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.file.write_all(&self.buf)?;
        self.buf.clear();
        Ok(())
    }
}

/// Makes a rename durable. Windows has no directory handles for this; NTFS journals it.
pub fn sync_dir(dir: &Path) {
    #[cfg(unix)]
    if let Ok(handle) = File::open(dir) {
        let _ = handle.sync_all();
    }
    #[cfg(not(unix))]
    let _ = dir;
}

/// Whether to follow a symlink at the last path component.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Links {
    /// The caller named the file (an attachment path): a link to a regular file is fine.
    Follow,
    /// A file found by listing a store folder: a link could point anywhere.
    Refuse,
}

/// Opens a regular file for reading. A FIFO or device can neither block the open
/// (`O_NONBLOCK`) nor be read: the type is checked on the open handle, so a file swapped in
/// after a listing is caught too.
pub fn open_regular(path: &Path, links: Links) -> io::Result<File> {
    let mut options = OpenOptions::new();
    options.read(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        let nofollow = if links == Links::Refuse {
            libc::O_NOFOLLOW
        } else {
            0
        };
        options.custom_flags(nofollow | libc::O_NONBLOCK);
    }
    #[cfg(windows)]
    if links == Links::Refuse {
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

#[derive(Debug)]
pub enum ReadError {
    /// The file is (or grew to) more than the cap; nothing more was read.
    TooLarge {
        len: u64,
        limit: u64,
    },
    /// The memory for the file's size could not be reserved.
    NoMemory(u64),
    Io(io::Error),
}

impl std::fmt::Display for ReadError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ReadError::TooLarge { len, limit } if len > limit => {
                write!(f, "{len} bytes (limit {limit})")
            }
            ReadError::TooLarge { limit, .. } => write!(f, "grew past the limit of {limit} bytes"),
            ReadError::NoMemory(len) => write!(f, "cannot hold {len} bytes"),
            ReadError::Io(e) => e.fmt(f),
        }
    }
}

/// Reads the whole file, refusing one larger than `limit` before reading anything.
pub fn read_capped(file: &mut File, limit: u64) -> std::result::Result<Vec<u8>, ReadError> {
    let len = file.metadata().map_err(ReadError::Io)?.len();
    if len > limit {
        return Err(ReadError::TooLarge { len, limit });
    }
    let mut data = Vec::new();
    data.try_reserve_exact(len as usize)
        .map_err(|_| ReadError::NoMemory(len))?;
    // The size we saw in one read (std's `read_to_end` through `take` probes in growing
    // reads: five system calls for 100 KB); then on to the end, in case the file grew,
    // with `take` keeping that within the cap.
    data.resize(len as usize, 0);
    let mut filled = 0;
    while filled < data.len() {
        match file.read(&mut data[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(ReadError::Io(e)),
        }
    }
    data.truncate(filled);
    (&mut *file)
        .take(limit + 1 - filled as u64)
        .read_to_end(&mut data)
        .map_err(ReadError::Io)?;
    if data.len() as u64 > limit {
        return Err(ReadError::TooLarge { len: limit, limit });
    }
    Ok(data)
}

/// Whether the open `file` is still the one at `path`: a message another process delivered
/// (removed or moved) while we waited for its lock is not ours to deliver again.
pub fn is_same_file(file: &File, path: &Path) -> bool {
    let (Ok(open), Ok(named)) = (file.metadata(), fs::symlink_metadata(path)) else {
        return false;
    };
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        open.dev() == named.dev() && open.ino() == named.ino()
    }
    #[cfg(windows)]
    {
        // The file index is not in stable std; names are unique, so a file of the same
        // creation time and size at the same path is the same file.
        use std::os::windows::fs::MetadataExt;
        open.creation_time() == named.creation_time() && open.len() == named.len()
    }
    #[cfg(not(any(unix, windows)))]
    {
        open.len() == named.len()
    }
}

/// A temporary file found in a store folder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Leftover {
    pub path: PathBuf,
    pub bytes: u64,
    pub age: Duration,
}

/// The temporary files (`.tmp-*`, regular files only) directly in `dir`.
pub fn temporaries(dir: &Path) -> Vec<Leftover> {
    files_named(dir, |name| name.starts_with(TEMP_PREFIX))
}

/// The regular files directly in `dir` whose names `wanted` accepts, with size and age.
pub fn files_named(dir: &Path, wanted: impl Fn(&str) -> bool) -> Vec<Leftover> {
    let Ok(entries) = fs::read_dir(dir) else {
        return Vec::new();
    };
    let now = SystemTime::now();
    let mut found: Vec<Leftover> = entries
        .flatten()
        .filter(|e| e.file_name().to_str().is_some_and(&wanted))
        .filter_map(|e| {
            // `DirEntry::metadata` does not follow symlinks.
            let meta = e.metadata().ok().filter(|m| m.is_file())?;
            let age = meta
                .modified()
                .ok()
                .and_then(|m| now.duration_since(m).ok())
                .unwrap_or_default();
            Some(Leftover {
                path: e.path(),
                bytes: meta.len(),
                age,
            })
        })
        .collect();
    found.sort_by(|a, b| a.path.cmp(&b.path));
    found
}

/// Removes the temporary files in `dir` not modified for `max_age`: a writer that is alive
/// keeps touching its file, so these were left by a process killed mid-write.
pub fn sweep_temporaries(dir: &Path, max_age: Duration) -> Vec<Leftover> {
    temporaries(dir)
        .into_iter()
        .filter(|t| t.age >= max_age && fs::remove_file(&t.path).is_ok())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(unix)]
    fn mode(path: &Path) -> u32 {
        use std::os::unix::fs::PermissionsExt;
        fs::metadata(path).unwrap().permissions().mode() & 0o777
    }

    #[cfg(unix)]
    #[test]
    fn new_files_and_folders_are_private() {
        let dir = tempfile::tempdir().unwrap();
        let nested = dir.path().join("a/b");
        create_private_dir_all(&nested).unwrap();
        assert_eq!(mode(&dir.path().join("a")), 0o700);
        assert_eq!(mode(&nested), 0o700);
        create_new_private(&nested.join("f")).unwrap();
        assert_eq!(mode(&nested.join("f")), 0o600);
        let log = dir.path().join("logs/x.log");
        open_append_private(&log).unwrap();
        assert_eq!(mode(&log), 0o600);
        assert_eq!(mode(log.parent().unwrap()), 0o700);
        let target = nested.join("m.eml");
        write_atomically(&nested.join(".tmp-m"), &target, |w| w.write_all(b"x")).unwrap();
        assert_eq!(mode(&target), 0o600);
    }

    #[test]
    fn atomic_write_replaces_or_leaves_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("m");
        fs::write(&target, "old").unwrap();
        let temp = dir.path().join(".tmp-1");
        write_atomically(&temp, &target, |w| w.write_all(b"new")).unwrap();
        assert_eq!(fs::read(&target).unwrap(), b"new");
        let err = write_atomically(&temp, &target, |w| {
            w.write_all(b"partial")?;
            Err(io::Error::other("boom"))
        })
        .unwrap_err();
        assert_eq!(err.code(), 2);
        assert_eq!(fs::read(&target).unwrap(), b"new");
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 1);
    }

    #[test]
    fn only_stores_that_ask_get_their_folder_made() {
        let dir = tempfile::tempdir().unwrap();
        let folder = dir.path().join("a/b");
        let (temp, target) = (folder.join(".tmp-m"), folder.join("m"));
        let err = write_atomically(&temp, &target, |w| w.write_all(b"x")).unwrap_err();
        assert_eq!(err.code(), 2);
        assert!(!dir.path().join("a").exists(), "nothing made");
        write_atomically_making_folder(&temp, &target, |w| w.write_all(b"x")).unwrap();
        assert_eq!(fs::read(&target).unwrap(), b"x");
        #[cfg(unix)]
        assert_eq!(mode(&folder), 0o700);
    }

    #[test]
    fn writes_through_the_reused_buffer_arrive_whole() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("m");
        let temp = dir.path().join(".tmp-m");
        // Pieces below, at and above the buffer size, so every path of `Buffered` runs.
        let pieces: Vec<Vec<u8>> = [
            1,
            7,
            WRITE_BUFFER_BYTES - 3,
            5,
            WRITE_BUFFER_BYTES,
            2 * WRITE_BUFFER_BYTES + 1,
            0,
            9,
        ]
        .iter()
        .enumerate()
        .map(|(i, &n)| (0..n).map(|j| (i * 31 + j) as u8).collect())
        .collect();
        for round in 0..2 {
            write_atomically(&temp, &target, |w| {
                pieces.iter().try_for_each(|p| w.write_all(p))
            })
            .unwrap();
            assert_eq!(fs::read(&target).unwrap(), pieces.concat(), "round {round}");
        }
        // A failed render hands the buffer back too; the next write starts empty.
        write_atomically(&temp, &target, |w| {
            w.write_all(b"partial")?;
            Err(io::Error::other("boom"))
        })
        .unwrap_err();
        write_atomically(&temp, &target, |w| w.write_all(b"next")).unwrap();
        assert_eq!(fs::read(&target).unwrap(), b"next");
    }

    #[cfg(unix)]
    #[test]
    fn only_regular_files_open() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("t");
        fs::write(&target, "x").unwrap();
        let link = dir.path().join("l");
        std::os::unix::fs::symlink(&target, &link).unwrap();
        assert!(open_regular(&link, Links::Refuse).is_err());
        assert!(open_regular(&link, Links::Follow).is_ok());
        assert!(open_regular(dir.path(), Links::Follow).is_err());
        assert!(open_regular(&target, Links::Refuse).is_ok());
    }

    #[test]
    fn reads_are_capped() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t");
        fs::write(&path, "0123456789").unwrap();
        let mut file = open_regular(&path, Links::Refuse).unwrap();
        assert!(matches!(
            read_capped(&mut file, 9),
            Err(ReadError::TooLarge { len: 10, limit: 9 })
        ));
        let mut file = open_regular(&path, Links::Refuse).unwrap();
        assert_eq!(read_capped(&mut file, 10).unwrap(), b"0123456789");
    }

    /// Files in /proc say they are empty and are not: what is read past the size seen is
    /// read on, within the cap, as for a file that grows while it is read.
    #[cfg(target_os = "linux")]
    #[test]
    fn reads_go_past_the_size_seen_within_the_cap() {
        let path = Path::new("/proc/self/status");
        assert_eq!(fs::metadata(path).unwrap().len(), 0);
        let mut file = open_regular(path, Links::Follow).unwrap();
        let data = read_capped(&mut file, 1 << 20).unwrap();
        assert!(data.starts_with(b"Name:"), "{data:?}");
        let mut file = open_regular(path, Links::Follow).unwrap();
        assert!(matches!(
            read_capped(&mut file, 10),
            Err(ReadError::TooLarge { len: 10, limit: 10 })
        ));
    }

    #[test]
    fn same_file_notices_removal_and_replacement() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("m.eml");
        fs::write(&path, "one").unwrap();
        let file = File::open(&path).unwrap();
        assert!(is_same_file(&file, &path));
        fs::rename(&path, dir.path().join("moved")).unwrap();
        assert!(!is_same_file(&file, &path));
        fs::write(&path, "other content").unwrap();
        assert!(!is_same_file(&file, &path));
    }

    #[test]
    fn only_old_temporaries_are_swept() {
        let dir = tempfile::tempdir().unwrap();
        let old = dir.path().join(".tmp-old");
        let fresh = dir.path().join(".tmp-fresh");
        let message = dir.path().join("old.eml");
        for p in [&old, &fresh, &message] {
            fs::write(p, "x").unwrap();
        }
        let two_hours_ago = SystemTime::now() - Duration::from_secs(7200);
        for p in [&old, &message] {
            File::options()
                .write(true)
                .open(p)
                .unwrap()
                .set_modified(two_hours_ago)
                .unwrap();
        }
        fs::create_dir(dir.path().join(".tmp-folder")).unwrap();
        assert_eq!(temporaries(dir.path()).len(), 2);
        let swept = sweep_temporaries(dir.path(), TEMP_MAX_AGE);
        assert_eq!(swept.len(), 1);
        assert_eq!(swept[0].path, old);
        assert!(!old.exists() && fresh.exists() && message.exists());
        assert!(dir.path().join(".tmp-folder").exists());
    }
}
