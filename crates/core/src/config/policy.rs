//! Windows policy: `SOFTWARE\Policies\mapishim` value `ConfigFile` names the file read in
//! the machine file's place (set by Group Policy or Intune through packaging/admx/).
//! `HKLM` wins over `HKCU`, as a computer policy wins over a user policy in Group Policy.
use super::source::ConfigFile;
use std::path::PathBuf;

/// The policy key, under `HKLM` and `HKCU`.
pub const POLICY_KEY: &str = r"SOFTWARE\Policies\mapishim";
/// The value naming the configuration file (REG_SZ or REG_EXPAND_SZ).
pub const POLICY_VALUE: &str = "ConfigFile";

/// The file the policy names, `HKLM` first; `None` when neither hive sets a non-empty value.
#[cfg(windows)]
pub(crate) fn config_file() -> Option<ConfigFile> {
    use super::source::Origin;
    use windows_registry::{CURRENT_USER, LOCAL_MACHINE};
    [(LOCAL_MACHINE, "HKLM"), (CURRENT_USER, "HKCU")]
        .into_iter()
        .find_map(|(hive, name)| {
            let value = hive.open(POLICY_KEY).ok()?.get_string(POLICY_VALUE).ok()?;
            // REG_SZ is expanded too: admins write %USERNAME% in either type.
            let value = expand_env(value.trim(), |name| std::env::var(name).ok());
            (!value.is_empty()).then(|| ConfigFile {
                origin: Origin::Policy,
                path: PathBuf::from(value),
                named_by: Some(format!(r"{name}\{POLICY_KEY}\{POLICY_VALUE}")),
            })
        })
}

#[cfg(not(windows))]
pub(crate) fn config_file() -> Option<ConfigFile> {
    None
}

/// `%ProgramData%`, as Windows sets it in every process's environment; else the folder the
/// profile list records (a program started with an emptied environment).
#[cfg(windows)]
pub(crate) fn program_data() -> Option<PathBuf> {
    if let Some(dir) = std::env::var_os("ProgramData").filter(|d| !d.is_empty()) {
        return Some(PathBuf::from(dir));
    }
    let list = windows_registry::LOCAL_MACHINE
        .open(r"SOFTWARE\Microsoft\Windows NT\CurrentVersion\ProfileList")
        .ok()?;
    let dir = list.get_string("ProgramData").ok()?;
    Some(PathBuf::from(expand_env(&dir, |name| {
        std::env::var(name).ok()
    })))
}

#[cfg(not(windows))]
pub(crate) fn program_data() -> Option<PathBuf> {
    None
}

/// Expands `%VAR%` references the way `ExpandEnvironmentStrings` does,
/// without its unsafe buffer protocol: unknown names are left as written.
pub fn expand_env(text: &str, lookup: impl Fn(&str) -> Option<String>) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(start) = rest.find('%') {
        out.push_str(&rest[..start]);
        let after = &rest[start + 1..];
        match after.find('%') {
            Some(end) => {
                let name = &after[..end];
                match lookup(name) {
                    Some(value) if !name.is_empty() => out.push_str(&value),
                    _ => out.push_str(&rest[start..start + end + 2]),
                }
                rest = &after[end + 1..];
            }
            None => {
                out.push_str(&rest[start..]);
                rest = "";
            }
        }
    }
    out.push_str(rest);
    out
}
