//! The typed FFI argument layer: every read of a C caller's memory and every write into it
//! goes through the `#[repr(transparent)]` wrappers of this crate.
//!
//! The generated exports of `mapi32` declare their parameters with these types (picked from
//! the export table's C types), so the C caller passes them directly and the implementations
//! never see a raw pointer. Each wrapper checks NULL, counts and limits once, reads with a
//! bound, and copies: nothing returned borrows the caller's memory beyond the call.
//! `Out::set` is the only way to write an out-parameter, and it is called on success paths
//! only.
//!
//! Soundness rests on one rule: a wrapper is only ever obtained from a C caller (as an
//! export's parameter or a field of a structure it passed), whose contract is the export's
//! `unsafe extern` signature, or from the `unsafe` constructors below. All `unsafe` of the
//! layer is in this crate, each block with its `// SAFETY:` reason.
//!
//! [`foreign`] has the same bounded reads for memory a loaded library (a forwarded provider,
//! a plugin host's plugin) hands back; [`block`] lays out the memory we hand to callers.
use mapishim_core::{MapiCode, MapiError, RawText, Result};
use std::ffi::{c_char, c_void};

pub mod block;
pub mod foreign;
#[cfg(windows)]
pub mod windows;

/// Longest string read from a caller, in code units: a bound on a missing terminator.
pub const MAX_STRING_UNITS: usize = 256 * 1024 * 1024;

fn too_long() -> MapiError {
    MapiError::new(
        MapiCode::TextTooLarge,
        "string without terminator within 256 M units",
    )
}

/// Counts the units before the terminator, up to `limit`.
///
/// # Safety
/// `p` is non-NULL and points to units up to a zero unit, or to at least `limit + 1`.
unsafe fn terminated_len<T: Copy + PartialEq + Default>(
    p: *const T,
    limit: usize,
) -> Option<usize> {
    let mut len = 0;
    // SAFETY: the caller promises readable units up to the terminator; we stop there or at
    // the bound. Unaligned reads: callers' wide strings are not always 2-aligned.
    while unsafe { p.add(len).read_unaligned() } != T::default() {
        len += 1;
        if len > limit {
            return None;
        }
    }
    Some(len)
}

/// Copies `len` units.
///
/// # Safety
/// `p` points to `len` readable units.
unsafe fn copy_units<T: Copy>(p: *const T, len: usize) -> Vec<T> {
    // SAFETY: every unit in 0..len is readable (the caller's promise).
    (0..len)
        .map(|i| unsafe { p.add(i).read_unaligned() })
        .collect()
}

/// `LPSTR` in: a NUL-terminated narrow string, or NULL.
#[repr(transparent)]
pub struct InStr(*const c_char);

impl InStr {
    /// # Safety
    /// `p` is NULL or a NUL-terminated string that stays readable while the value is used.
    pub unsafe fn from_ptr(p: *const c_char) -> Self {
        InStr(p)
    }

    pub fn is_null(&self) -> bool {
        self.0.is_null()
    }

    /// A copy of the string (`None` for NULL), read up to [`MAX_STRING_UNITS`].
    pub fn read(&self) -> Result<Option<RawText>> {
        if self.0.is_null() {
            return Ok(None);
        }
        // SAFETY: non-NULL, terminated per the contract of how an `InStr` is obtained.
        let len = unsafe { terminated_len(self.0.cast::<u8>(), MAX_STRING_UNITS) }
            .ok_or_else(too_long)?;
        // SAFETY: the `len` bytes before the terminator were just read.
        Ok(Some(RawText::Narrow(unsafe {
            copy_units(self.0.cast::<u8>(), len)
        })))
    }
}

/// `PWSTR` in: a NUL-terminated UTF-16 string, or NULL.
#[repr(transparent)]
pub struct InWStr(*const u16);

impl InWStr {
    /// # Safety
    /// As for [`InStr::from_ptr`], with 16-bit units.
    pub unsafe fn from_ptr(p: *const u16) -> Self {
        InWStr(p)
    }

    pub fn is_null(&self) -> bool {
        self.0.is_null()
    }

    /// A copy of the string (`None` for NULL), read up to [`MAX_STRING_UNITS`].
    pub fn read(&self) -> Result<Option<RawText>> {
        if self.0.is_null() {
            return Ok(None);
        }
        // SAFETY: non-NULL, terminated per the contract of how an `InWStr` is obtained.
        let len = unsafe { terminated_len(self.0, MAX_STRING_UNITS) }.ok_or_else(too_long)?;
        // SAFETY: the `len` units before the terminator were just read.
        Ok(Some(RawText::Wide(unsafe { copy_units(self.0, len) })))
    }
}

/// A pointer to one structure the caller passes in (`lpMapiMessage`), or NULL.
#[repr(transparent)]
pub struct InRef<T>(*const T);

impl<T> InRef<T> {
    /// # Safety
    /// `p` is NULL or points to a readable `T` whose own pointers follow the same rules.
    pub unsafe fn from_ptr(p: *const T) -> Self {
        InRef(p)
    }

    pub fn is_null(&self) -> bool {
        self.0.is_null()
    }

    /// The structure, or `None` for NULL.
    pub fn get(&self) -> Option<&T> {
        // SAFETY: NULL or a readable `T` per the contract; `as_ref` checks NULL. Callers'
        // structures are aligned (the C compiler lays them out).
        unsafe { self.0.as_ref() }
    }
}

/// An array the caller passes in with a separate count (`lpRecips` and `nRecips`).
#[repr(transparent)]
pub struct InArray<T>(*const T);

impl<T> InArray<T> {
    /// # Safety
    /// `p` is NULL or points to as many readable `T`s as the count given with it says.
    pub unsafe fn from_ptr(p: *const T) -> Self {
        InArray(p)
    }

    pub fn is_null(&self) -> bool {
        self.0.is_null()
    }

    /// The elements, after the count is checked against NULL and `limit`. A count of 0 is
    /// an empty array whatever the pointer.
    pub fn read(
        &self,
        count: u32,
        limit: usize,
        null_code: MapiCode,
        limit_code: MapiCode,
        what: &str,
    ) -> Result<&[T]> {
        if count == 0 {
            return Ok(&[]);
        }
        if self.0.is_null() {
            return Err(MapiError::new(
                null_code,
                format!("{count} {what} announced but the array is NULL"),
            ));
        }
        if count as usize > limit {
            return Err(MapiError::new(
                limit_code,
                format!("{count} {what} (limit {limit})"),
            ));
        }
        // SAFETY: non-NULL, and the caller states `count` elements; count is bounded.
        Ok(unsafe { std::slice::from_raw_parts(self.0, count as usize) })
    }
}

/// Opaque bytes with a separate size (`lpEntryID` and `ulEIDSize`), or NULL.
#[repr(transparent)]
pub struct InBytes(*const c_void);

impl InBytes {
    /// # Safety
    /// `p` is NULL or points to as many readable bytes as the size given with it says.
    pub unsafe fn from_ptr(p: *const c_void) -> Self {
        InBytes(p)
    }

    /// A copy of `size` bytes; `None` for NULL, empty, or larger than `max` (not ours).
    pub fn read(&self, size: u32, max: u32) -> Option<Vec<u8>> {
        if self.0.is_null() || size == 0 || size > max {
            return None;
        }
        // SAFETY: the caller states `size` readable bytes; size is bounded by `max`.
        Some(unsafe { copy_units(self.0.cast::<u8>(), size as usize) })
    }
}

/// A pointer the caller hands back for us to look up, never to read (`MAPIFreeBuffer`).
#[repr(transparent)]
pub struct Address(*mut c_void);

impl Address {
    pub fn is_null(&self) -> bool {
        self.0.is_null()
    }

    pub fn addr(&self) -> usize {
        self.0 as usize
    }
}

impl std::fmt::Debug for Address {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:p}", self.0)
    }
}

/// An out-parameter: room for one `T` the caller provides, or NULL.
#[repr(transparent)]
pub struct Out<T>(*mut T);

impl<T> Out<T> {
    /// # Safety
    /// `p` is NULL or writable room for one `T` (alignment not required).
    pub unsafe fn from_ptr(p: *mut T) -> Self {
        Out(p)
    }

    /// Checks the parameter before any work is done, so NULL fails early.
    pub fn require(&self, what: &str) -> Result<()> {
        if self.0.is_null() {
            return Err(MapiError::failure(format!("{what} is NULL")));
        }
        Ok(())
    }

    /// Writes the value: the only write into an out-parameter, on a success path. NULL
    /// (which [`Out::require`] refused earlier) is left alone.
    pub fn set(self, value: T) {
        if !self.0.is_null() {
            // SAFETY: non-NULL and writable per the contract; unaligned because callers may
            // pass the address of a packed field.
            unsafe { self.0.write_unaligned(value) };
        }
    }
}

/// `LPSTR` in and out: a caller's buffer that may hold a terminated string (`MAPISaveMail`'s
/// message ID to replace) and receives one (`MAPIFindNext`, `MAPISaveMail`). The room is
/// documented by the API, not passed.
#[repr(transparent)]
pub struct OutStr(*mut c_char);

impl OutStr {
    /// # Safety
    /// `p` is NULL or a writable buffer of the documented size, holding a terminated string
    /// when it is also read.
    pub unsafe fn from_ptr(p: *mut c_char) -> Self {
        OutStr(p)
    }

    /// Checks the parameter before any work is done.
    pub fn require(&self, what: &str) -> Result<()> {
        if self.0.is_null() {
            return Err(MapiError::failure(format!("{what} is NULL")));
        }
        Ok(())
    }

    /// The string it holds now, as an [`InStr`] would read it.
    pub fn read(&self) -> Result<Option<RawText>> {
        InStr(self.0).read()
    }

    /// Writes `text` and a terminator if they fit `room` bytes; on success paths only.
    pub fn set(self, text: &[u8], room: usize) -> Result<()> {
        self.require("output buffer")?;
        if text.len() + 1 > room {
            return Err(MapiError::failure(format!(
                "{} does not fit {room} bytes",
                String::from_utf8_lossy(text)
            )));
        }
        // SAFETY: non-NULL and `room` bytes long per the contract; text.len() + 1 <= room,
        // and `text` is our own memory, so the ranges do not overlap.
        unsafe {
            std::ptr::copy_nonoverlapping(text.as_ptr(), self.0.cast::<u8>(), text.len());
            self.0.add(text.len()).write(0);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strings_are_copied_and_null_is_none() {
        // SAFETY: NULL and a terminated literal.
        let (null, s) = unsafe {
            (
                InStr::from_ptr(std::ptr::null()),
                InStr::from_ptr(c"abc".as_ptr()),
            )
        };
        assert_eq!(null.read().unwrap(), None);
        assert_eq!(s.read().unwrap(), Some(RawText::Narrow(b"abc".to_vec())));
        let wide: Vec<u16> = "é\0".encode_utf16().collect();
        // SAFETY: terminated.
        let w = unsafe { InWStr::from_ptr(wide.as_ptr()) };
        assert_eq!(w.read().unwrap(), Some(RawText::Wide(vec![0xE9])));
    }

    #[test]
    fn null_arrays_with_counts_are_refused() {
        // SAFETY: a NULL array with a count is the case under test; it is never read.
        let null = unsafe { InArray::<u8>::from_ptr(std::ptr::null()) };
        let err = null
            .read(
                3,
                10,
                MapiCode::InvalidRecips,
                MapiCode::TooManyRecipients,
                "recipients",
            )
            .unwrap_err();
        assert_eq!(err.code(), 25);
        assert!(
            null.read(
                0,
                10,
                MapiCode::InvalidRecips,
                MapiCode::TooManyRecipients,
                "r"
            )
            .unwrap()
            .is_empty()
        );
        let one = [0u8; 1];
        // SAFETY: the count is over the limit, so nothing is read.
        let over = unsafe { InArray::from_ptr(one.as_ptr()) };
        let err = over
            .read(
                11,
                10,
                MapiCode::InvalidRecips,
                MapiCode::TooManyRecipients,
                "recipients",
            )
            .unwrap_err();
        assert_eq!(err.code(), 10);
    }

    #[test]
    fn out_parameters_are_written_only_by_set() {
        let mut slot = 0u32;
        // SAFETY: room for one u32.
        let out = unsafe { Out::from_ptr(&mut slot) };
        out.require("slot").unwrap();
        out.set(7);
        assert_eq!(slot, 7);
        // SAFETY: NULL.
        let null = unsafe { Out::<u32>::from_ptr(std::ptr::null_mut()) };
        assert!(
            null.require("lplhSession")
                .unwrap_err()
                .detail()
                .contains("lplhSession is NULL")
        );
        null.set(1);

        let mut buf = [0x55 as c_char; 4];
        // SAFETY: 4 writable bytes.
        let id = unsafe { OutStr::from_ptr(buf.as_mut_ptr()) };
        assert!(id.set(b"abcd", 4).is_err(), "no room for the terminator");
        // SAFETY: as above.
        let id = unsafe { OutStr::from_ptr(buf.as_mut_ptr()) };
        id.set(b"abc", 4).unwrap();
        assert_eq!(buf.map(|c| c as u8), *b"abc\0");
    }

    #[test]
    fn entry_ids_are_bounded() {
        let id = [1u8, 2, 3];
        // SAFETY: 3 readable bytes.
        let bytes = unsafe { InBytes::from_ptr(id.as_ptr().cast()) };
        assert_eq!(bytes.read(3, 4096), Some(vec![1, 2, 3]));
        assert_eq!(bytes.read(5000, 4096), None);
        assert_eq!(bytes.read(0, 4096), None);
    }
}
