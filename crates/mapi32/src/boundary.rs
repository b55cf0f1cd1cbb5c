//! The panic boundary every export runs inside.
use mapishim_abi::MAPI_E_FAILURE;
use std::panic::{AssertUnwindSafe, catch_unwind};

/// Runs one export. A panic must never unwind into the caller's frames (that is undefined
/// behaviour, and with `extern "system"` an abort of the host program): it is caught,
/// logged, and reported as `MAPI_E_FAILURE`.
pub(crate) fn guard(function: &'static str, body: impl FnOnce() -> u32) -> u32 {
    platform_init();
    // AssertUnwindSafe: after a panic nothing of the closure's state is used again; shared
    // state sits behind mutexes that the engine recovers from poisoning.
    match catch_unwind(AssertUnwindSafe(body)) {
        Ok(code) => code,
        Err(payload) => {
            let what = payload
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| payload.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "unknown panic".into());
            tracing::error!(function, "internal error, call failed safely: {what}");
            MAPI_E_FAILURE
        }
    }
}

/// Process facts the safe crates cannot ask for themselves, recorded before the first call.
fn platform_init() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        #[cfg(windows)]
        {
            // SAFETY: GetACP takes no arguments and only reads process state.
            let code_page = unsafe { windows_sys::Win32::Globalization::GetACP() };
            mapishim_core::text::set_system_ansi_codepage(code_page);
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn panics_become_failure() {
        assert_eq!(guard("test", || panic!("boom")), MAPI_E_FAILURE);
        assert_eq!(guard("test", || 0), 0);
    }

    #[test]
    fn every_generated_export_is_guarded() {
        let generated = mapishim_abi::render_rust_exports();
        for export in mapishim_abi::EXPORTS {
            let start = generated
                .find(&format!("extern \"system\" fn {}(", export.name))
                .unwrap();
            let body = &generated[start..start + generated[start..].find("\n}\n").unwrap()];
            assert!(
                body.contains(&format!("crate::boundary::guard(\"{}\"", export.name)),
                "{}",
                export.name
            );
        }
    }
}
