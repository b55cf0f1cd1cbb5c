//! The Win32 calls the safe crates need, each behind a safe function: the process's ANSI
//! code page, a job object that ends a command's process tree, and DPAPI for the token file.
//! Here, so that every `unsafe` outside the C exports lives in this crate.
use std::os::windows::io::AsRawHandle;
use std::process::Child;
use windows_sys::Win32::Foundation::{CloseHandle, HANDLE};
use windows_sys::Win32::System::JobObjects::{
    AssignProcessToJobObject, CreateJobObjectW, TerminateJobObject,
};

/// The process's ANSI code page (`GetACP`), for reading callers' `A` strings.
pub fn ansi_code_page() -> u32 {
    // SAFETY: GetACP takes no arguments and only reads process state.
    unsafe { windows_sys::Win32::Globalization::GetACP() }
}

/// A job object holding the child and, by inheritance, everything it starts. A process
/// started between `spawn` and the assignment escapes the job; the child itself is
/// still killed.
pub struct Tree(HANDLE);

impl Tree {
    pub fn adopt(child: &Child) -> Self {
        // SAFETY: no security attributes and no name; the handle is owned by `Tree`.
        let job = unsafe { CreateJobObjectW(std::ptr::null(), std::ptr::null()) };
        if !job.is_null() {
            // SAFETY: both handles are valid: the job was just created, and the child
            // handle lives as long as `child`.
            unsafe { AssignProcessToJobObject(job, child.as_raw_handle() as HANDLE) };
        }
        Tree(job)
    }

    pub fn kill(self, child: &mut Child) {
        if !self.0.is_null() {
            // SAFETY: the job handle is valid until `drop`.
            unsafe { TerminateJobObject(self.0, 1) };
        }
        let _ = child.kill();
        let _ = child.wait();
    }
}

impl Drop for Tree {
    fn drop(&mut self) {
        if !self.0.is_null() {
            // SAFETY: the handle was created by `adopt` and is closed once. Closing it
            // does not end the processes (no KILL_ON_JOB_CLOSE): a program may leave a
            // helper running on purpose.
            unsafe { CloseHandle(self.0) };
        }
    }
}

/// DPAPI (`CryptProtectData`) for the current user.
pub mod dpapi {

    use std::io;
    use windows_sys::Win32::Foundation::LocalFree;
    use windows_sys::Win32::Security::Cryptography::{
        CRYPT_INTEGER_BLOB, CRYPTPROTECT_UI_FORBIDDEN, CryptProtectData, CryptUnprotectData,
    };

    fn blob(data: &[u8]) -> CRYPT_INTEGER_BLOB {
        CRYPT_INTEGER_BLOB {
            cbData: data.len() as u32,
            pbData: data.as_ptr() as *mut u8,
        }
    }

    /// Copies the output blob and frees it with `LocalFree`, as DPAPI requires.
    fn take(out: CRYPT_INTEGER_BLOB) -> Vec<u8> {
        if out.pbData.is_null() {
            return Vec::new();
        }
        // SAFETY: DPAPI returned `cbData` bytes at `pbData`, allocated with LocalAlloc;
        // they are copied before the single LocalFree.
        unsafe {
            let bytes = std::slice::from_raw_parts(out.pbData, out.cbData as usize).to_vec();
            LocalFree(out.pbData as _);
            bytes
        }
    }

    /// Runs `call` (CryptProtectData or CryptUnprotectData) from `data` into a blob it
    /// allocates, and copies that out.
    fn crypt(
        data: &[u8],
        call: impl FnOnce(&CRYPT_INTEGER_BLOB, &mut CRYPT_INTEGER_BLOB) -> i32,
    ) -> io::Result<Vec<u8>> {
        let input = blob(data);
        let mut out = CRYPT_INTEGER_BLOB {
            cbData: 0,
            pbData: std::ptr::null_mut(),
        };
        if call(&input, &mut out) == 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(take(out))
    }

    /// Encrypts for the current user.
    pub fn seal(clear: &[u8]) -> io::Result<Vec<u8>> {
        crypt(clear, |input, out| {
            // SAFETY: `input` points at `clear`, alive for the call; the optional arguments
            // are NULL; `out` is written by the call and freed by `take`.
            unsafe {
                CryptProtectData(
                    input,
                    std::ptr::null(),
                    std::ptr::null(),
                    std::ptr::null(),
                    std::ptr::null(),
                    CRYPTPROTECT_UI_FORBIDDEN,
                    out,
                )
            }
        })
    }

    /// Decrypts what `seal` wrote for this user.
    pub fn open(stored: &[u8]) -> io::Result<Vec<u8>> {
        crypt(stored, |input, out| {
            // SAFETY: as in `seal`; the description out-parameter is not asked for.
            unsafe {
                CryptUnprotectData(
                    input,
                    std::ptr::null_mut(),
                    std::ptr::null(),
                    std::ptr::null(),
                    std::ptr::null(),
                    CRYPTPROTECT_UI_FORBIDDEN,
                    out,
                )
            }
        })
    }
}
