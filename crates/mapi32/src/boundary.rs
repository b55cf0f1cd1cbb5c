//! The boundary every export runs inside: panics are caught, and each refusal becomes the
//! caller's code and exactly one log line.
use mapishim_engine::c_api::{MapiCode, Result};
use std::panic::{AssertUnwindSafe, catch_unwind};

/// Runs one export. A panic must never unwind into the caller's frames (that is undefined
/// behaviour, and with `extern "system"` an abort of the host program): it is caught,
/// logged, and reported as `MAPI_E_FAILURE`. A refusal is logged here and nowhere else,
/// with the function, the code's SDK name and the reason (`send refused: MAPI_E_… (n): …`).
pub(crate) fn guard(
    function: &'static str,
    action: &'static str,
    body: impl FnOnce() -> Result<()>,
) -> u32 {
    platform_init();
    // AssertUnwindSafe: after a panic nothing of the closure's state is used again; shared
    // state sits behind mutexes that the engine recovers from poisoning.
    match catch_unwind(AssertUnwindSafe(body)) {
        Ok(Ok(())) => MapiCode::Success as u32,
        Ok(Err(e)) => {
            let app = mapishim_engine::app_name();
            let code = e.code_name();
            match e.mapi_code() {
                // The ordinary end of a FindNext loop, or the user's own choice.
                MapiCode::NoMessages | MapiCode::UserAbort => {
                    tracing::info!(function, app, code, "{action} refused: {e}")
                }
                _ => tracing::warn!(function, app, code, "{action} refused: {e}"),
            }
            e.code()
        }
        Err(payload) => {
            let what = payload
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| payload.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "unknown panic".into());
            tracing::error!(function, "internal error, call failed safely: {what}");
            MapiCode::Failure as u32
        }
    }
}

/// Process facts the safe crates cannot ask for themselves, recorded before the first call.
fn platform_init() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        #[cfg(windows)]
        {
            let code_page = mapishim_ffi::windows::ansi_code_page();
            mapishim_engine::c_api::set_system_ansi_codepage(code_page);
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use mapishim_engine::c_api::MapiError;

    #[test]
    fn panics_become_failure() {
        assert_eq!(guard("test", "test", || panic!("boom")), 2);
        assert_eq!(guard("test", "test", || Ok(())), 0);
        assert_eq!(
            guard("test", "test", || Err(MapiError::new(
                MapiCode::InvalidSession,
                "x"
            ))),
            19
        );
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
