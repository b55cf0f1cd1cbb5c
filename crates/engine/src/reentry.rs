//! Backend code that calls Simple MAPI again on the same thread is refused.
//!
//! A plugin whose `create` calls `MAPIResolveName` would otherwise ask for the runtime that
//! is being built (and build it again, and again); one whose `send` calls `MAPISendMail`
//! would nest until the stack overflows. No legitimate path leads from our own code back
//! into the entry points, so every engine entry point refuses while this thread runs
//! backend code. Other threads are not affected. `forward` guards its provider calls
//! itself (crates/forward), with a message that names the provider function.
use mapishim_core::{MapiError, Result};
use std::cell::Cell;

/// What backend code this thread is running: (backend name, what it was asked to do).
type Mark = Option<(&'static str, &'static str)>;

thread_local! {
    static INSIDE: Cell<Mark> = const { Cell::new(None) };
}

/// Restores the previous mark when the backend call returns (or unwinds).
pub(crate) struct Inside(Mark);

impl Drop for Inside {
    fn drop(&mut self) {
        INSIDE.with(|c| c.set(self.0));
    }
}

/// Marks this thread as running `backend`'s `call` until the result is dropped.
pub(crate) fn enter(backend: &'static str, call: &'static str) -> Inside {
    Inside(INSIDE.with(|c| c.replace(Some((backend, call)))))
}

/// Every entry point starts here: `MAPI_E_FAILURE` when this thread is inside backend code.
/// The refusal is logged once, by the export that returns it.
pub(crate) fn check() -> Result<()> {
    match INSIDE.with(Cell::get) {
        None => Ok(()),
        Some((backend, call)) => Err(MapiError::failure(format!(
            "backend \"{backend}\" called Simple MAPI again from its {call}; refused, as it \
             would deadlock or recurse: backend code must not call back into mapishim"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn marks_nest_and_clear_per_thread() {
        assert!(check().is_ok());
        {
            let _outer = enter("plugin", "send");
            let err = check().unwrap_err();
            assert_eq!(err.code(), mapishim_abi::MAPI_E_FAILURE);
            assert!(
                err.to_string()
                    .contains("\"plugin\" called Simple MAPI again from its send")
            );
            {
                let _inner = enter("plugin", "resolve");
                assert!(check().unwrap_err().to_string().contains("its resolve"));
            }
            assert!(check().unwrap_err().to_string().contains("its send"));
            let other = std::thread::spawn(|| check().is_ok()).join().unwrap();
            assert!(other, "another thread is not inside");
        }
        assert!(check().is_ok());
    }
}
