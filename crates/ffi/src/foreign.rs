//! Bounded reads of memory a loaded library hands back (a forwarded provider's
//! `MAPIResolveName` result, a plugin's table and buffers). Such memory is not under a C
//! caller's contract but a library's, so the reads check plausibility first and stay
//! `unsafe fn`: the loader states where the pointer came from.
use std::ffi::c_char;

/// Lowest address a real pointer can have: Windows and Linux keep the first 64 KiB unmapped,
/// so smaller values are small integers mistaken for pointers.
pub const MIN_ADDRESS: usize = 0x1_0000;

/// Not NULL, not a small integer, and aligned for `T`.
pub fn plausible<T>(ptr: *const T) -> bool {
    ptr as usize >= MIN_ADDRESS && ptr.is_aligned()
}

/// Copies a library's string: NULL is `None`; implausible or unterminated within `max`
/// bytes is an error saying which.
///
/// # Safety
/// `ptr` is NULL or points to memory the library handed out for reading.
pub unsafe fn string(ptr: *const c_char, max: usize) -> Result<Option<Vec<u8>>, String> {
    if ptr.is_null() {
        return Ok(None);
    }
    if !plausible(ptr) {
        return Err(format!("a string pointer {ptr:p}"));
    }
    let mut bytes = Vec::new();
    for i in 0..max {
        // SAFETY: the library's string, read byte by byte up to its terminator or the limit.
        let byte = unsafe { ptr.add(i).read() } as u8;
        if byte == 0 {
            return Ok(Some(bytes));
        }
        bytes.push(byte);
    }
    Err(format!("a string without terminator in {max} bytes"))
}

/// Copies one structure the library handed out.
///
/// # Safety
/// `ptr` is NULL or points to a `T` the library handed out (checked for plausibility).
pub unsafe fn read<T: Copy>(ptr: *const T) -> Result<T, String> {
    if !plausible(ptr) {
        return Err(format!("a {} pointer {ptr:p}", std::any::type_name::<T>()));
    }
    // SAFETY: plausible and aligned; the library promised a `T` there.
    Ok(unsafe { ptr.read() })
}

/// Views `len` bytes a caller or library passed with their length (NULL or 0 is empty).
///
/// # Safety
/// `ptr` is NULL or points to `len` readable bytes.
pub unsafe fn bytes<'a>(ptr: *const u8, len: usize) -> &'a [u8] {
    // SAFETY: forwarded from the contract above.
    unsafe { slice(ptr, len) }
}

/// Views `len` elements a caller or library passed with their count (NULL or 0 is empty).
///
/// # Safety
/// `ptr` is NULL or points to `len` readable, aligned elements.
pub unsafe fn slice<'a, T>(ptr: *const T, len: usize) -> &'a [T] {
    if ptr.is_null() || len == 0 {
        return &[];
    }
    // SAFETY: non-NULL with `len` readable elements per the contract.
    unsafe { std::slice::from_raw_parts(ptr, len) }
}

/// Copies `text` into a buffer of `len` bytes, NUL-terminated, cut at a character boundary
/// if it does not fit. Returns whether all of it fit.
///
/// # Safety
/// `buf` is NULL or valid for `len` bytes of writes.
pub unsafe fn write_c_string(buf: *mut c_char, len: usize, text: &str) -> bool {
    if buf.is_null() || len == 0 {
        return text.is_empty();
    }
    let mut end = text.len().min(len - 1);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    // SAFETY: `end < len` and the caller promises `len` writable bytes; the source is a
    // separate Rust string, so the ranges cannot overlap.
    unsafe {
        std::ptr::copy_nonoverlapping(text.as_ptr(), buf.cast::<u8>(), end);
        *buf.add(end) = 0;
    }
    end == text.len()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strings_are_checked_before_reading() {
        // SAFETY: NULL and small values are refused without being read.
        unsafe {
            assert_eq!(string(std::ptr::null(), 16), Ok(None));
            assert!(string(0x10 as *const c_char, 16).is_err());
            assert!(read(0x20 as *const u64).is_err());
        }
        let text = b"SMTP:a@b.org\0";
        // SAFETY: a terminated string.
        let read = unsafe { string(text.as_ptr().cast(), 64) };
        assert_eq!(read, Ok(Some(b"SMTP:a@b.org".to_vec())));
        let unterminated = [b'x'; 17];
        // SAFETY: readable for 17 bytes, which is past the limit.
        assert!(unsafe { string(unterminated.as_ptr().cast(), 16) }.is_err());
    }

    #[test]
    fn c_strings_are_cut_at_character_boundaries() {
        let mut buf = [0x55 as c_char; 5];
        // SAFETY: `buf` has 5 writable bytes.
        assert!(!unsafe { write_c_string(buf.as_mut_ptr(), buf.len(), "aé€") });
        // SAFETY: the function NUL-terminated it.
        let written = unsafe { std::ffi::CStr::from_ptr(buf.as_ptr()) };
        assert_eq!(written.to_bytes(), "aé".as_bytes());
        // SAFETY: as above.
        assert!(unsafe { write_c_string(buf.as_mut_ptr(), buf.len(), "abcd") });
        // SAFETY: a NULL buffer is allowed.
        assert!(!unsafe { write_c_string(std::ptr::null_mut(), 0, "x") });
    }
}
