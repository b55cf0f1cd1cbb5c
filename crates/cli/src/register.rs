//! `mapishim register | unregister | status`: making mapishim the system's Simple MAPI
//! provider through the `Clients\Mail` keys, and putting everything back exactly.
//!
//! What existed before is recorded inside our own client key, so `unregister` can restore
//! the previous default, the previous `Windows Messaging Subsystem\MAPI` value, and delete
//! only the keys that registration created.

#![cfg_attr(not(windows), allow(dead_code))]

use std::path::{Path, PathBuf};

pub const MAIL: &str = r"SOFTWARE\Clients\Mail";
pub const MESSAGING: &str = r"SOFTWARE\Microsoft\Windows Messaging Subsystem";
pub const DEFAULT_NAME: &str = "mapishim";
pub const DISPLAY_NAME: &str = "mapishim (Simple MAPI)";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    User,
    Machine,
}

/// `%ProgramFiles%\…` when the DLL lies under a Program Files folder, so that 32- and
/// 64-bit callers each expand it to their own side-by-side build.
pub fn portable_dll_path(dll: &Path, program_dirs: &[String]) -> String {
    let text = dll.display().to_string();
    for dir in program_dirs.iter().filter(|d| !d.is_empty()) {
        let dir = dir.trim_end_matches('\\');
        if text.len() > dir.len()
            && text[..dir.len()].eq_ignore_ascii_case(dir)
            && text.as_bytes()[dir.len()] == b'\\'
        {
            return format!("%ProgramFiles%{}", &text[dir.len()..]);
        }
    }
    text
}

/// The file registered as the provider must not be called mapi32.dll: Windows' stub and
/// Wine's builtin would end up calling themselves (docs/decisions.md §3).
pub fn check_provider_name(dll: &Path) -> Result<(), String> {
    let text = dll.display().to_string();
    let name = text.rsplit(['/', '\\']).next().unwrap_or_default();
    if name.eq_ignore_ascii_case("mapi32.dll") {
        return Err(format!(
            "{} is named mapi32.dll; register the same build under its provider name, mapishim.dll",
            dll.display()
        ));
    }
    Ok(())
}

/// The `DLLPath` to register for `dll`: a path with `%VARIABLES%` (the MSI's per-user
/// `…\%PROCESSOR_ARCHITECTURE%\mapishim.dll`, which 64- and 32-bit callers each expand to
/// their own build) is kept as given once its expansion here names an existing provider;
/// any other path is made portable.
pub fn registered_dll_path(
    dll: &Path,
    program_dirs: &[String],
    lookup: impl Fn(&str) -> Option<String>,
) -> Result<String, String> {
    let raw = dll.display().to_string();
    let expanded = PathBuf::from(mapishim_core::config::expand_env(&raw, lookup));
    check_provider_name(&expanded)?;
    if !expanded.is_file() {
        return Err(format!("{} does not exist", expanded.display()));
    }
    if expanded != dll {
        return Ok(raw);
    }
    Ok(portable_dll_path(dll, program_dirs))
}

pub fn default_dll() -> Result<PathBuf, String> {
    let exe = std::env::current_exe().map_err(|e| format!("cannot locate mapishim.exe: {e}"))?;
    Ok(exe.with_file_name("mapishim.dll"))
}

#[cfg(windows)]
pub use imp::{provider_for, register, status, unregister};

#[cfg(not(windows))]
pub fn register(_: Scope, _: &str, _: Option<PathBuf>) -> Result<(), String> {
    Err("registration is a Windows feature (under Wine, run mapishim.exe)".into())
}
#[cfg(not(windows))]
pub fn unregister(_: Scope, _: &str) -> Result<(), String> {
    register(Scope::User, "", None)
}
#[cfg(not(windows))]
pub fn status() -> Result<(), String> {
    register(Scope::User, "", None)
}

#[cfg(windows)]
mod imp {
    use super::*;
    use windows_registry::{CURRENT_USER, Key, LOCAL_MACHINE};

    const KEY_WOW64_64KEY: u32 = 0x0100;
    const KEY_WOW64_32KEY: u32 = 0x0200;
    const PREVIOUS_DEFAULT: &str = "mapishim.PreviousDefault";
    const NO_PREVIOUS_DEFAULT: &str = "mapishim.NoPreviousDefault";
    const PREVIOUS_MAPI: &str = "mapishim.PreviousMAPI";
    const NO_PREVIOUS_MAPI: &str = "mapishim.NoPreviousMAPI";
    const CREATED_KEYS: &str = "mapishim.CreatedKeys";

    /// One registry view: HKCU, or one of HKLM's 64- and 32-bit views (`Clients` is shared
    /// between them on Windows 7+, `Windows Messaging Subsystem` is not).
    struct View {
        root: &'static Key,
        access: u32,
        label: &'static str,
    }

    fn views(scope: Scope) -> Vec<View> {
        match scope {
            Scope::User => vec![View {
                root: CURRENT_USER,
                access: 0,
                label: "HKCU",
            }],
            Scope::Machine => vec![
                View {
                    root: LOCAL_MACHINE,
                    access: KEY_WOW64_64KEY,
                    label: "HKLM (64-bit view)",
                },
                View {
                    root: LOCAL_MACHINE,
                    access: KEY_WOW64_32KEY,
                    label: "HKLM (32-bit view)",
                },
            ],
        }
    }

    fn err(what: &str, e: windows_registry::Result<impl Sized>) -> String {
        match e {
            Err(e) => format!("{what}: {e}"),
            Ok(_) => String::new(),
        }
    }

    impl View {
        fn open(&self, path: &str) -> Option<Key> {
            self.root
                .options()
                .read()
                .access(self.access)
                .open(path)
                .ok()
        }
        fn open_rw(&self, path: &str) -> Result<Key, String> {
            self.root
                .options()
                .read()
                .write()
                .access(self.access)
                .open(path)
                .map_err(|e| format!("{} {path}: {e}", self.label))
        }
        /// Creates `path` and its parents, remembering which of them did not exist.
        fn create(&self, path: &str, created: &mut Vec<String>) -> Result<Key, String> {
            let mut sofar = String::new();
            for part in path.split('\\') {
                if !sofar.is_empty() {
                    sofar.push('\\');
                }
                sofar.push_str(part);
                if self.open(&sofar).is_none() {
                    created.push(sofar.clone());
                }
            }
            self.root
                .options()
                .read()
                .write()
                .create()
                .access(self.access)
                .open(path)
                .map_err(|e| format!("{} {path}: {e}", self.label))
        }
        fn is_empty(&self, path: &str) -> bool {
            self.open(path).is_some_and(|k| {
                k.keys().map(|mut i| i.next().is_none()).unwrap_or(false)
                    && k.values().map(|mut i| i.next().is_none()).unwrap_or(false)
            })
        }
    }

    fn string(key: &Key, name: &str) -> Option<String> {
        key.get_string(name).ok()
    }

    fn restore(key: &Key, name: &str, previous: Option<String>) -> Result<(), String> {
        match previous {
            Some(value) => key
                .set_string(name, value)
                .map_err(|e| format!("restore {name}: {e}")),
            None => match key.remove_value(name) {
                Ok(()) => Ok(()),
                Err(_) if key.get_value(name).is_err() => Ok(()),
                Err(e) => Err(format!("remove {name}: {e}")),
            },
        }
    }

    pub fn register(scope: Scope, name: &str, dll: Option<PathBuf>) -> Result<(), String> {
        let dll = match dll {
            Some(d) => d,
            None => default_dll()?,
        };
        let program_dirs: Vec<String> = ["ProgramW6432", "ProgramFiles(x86)", "ProgramFiles"]
            .iter()
            .filter_map(|v| std::env::var(v).ok())
            .collect();
        let dll_path = registered_dll_path(&dll, &program_dirs, |v| std::env::var(v).ok())?;
        let client_path = format!(r"{MAIL}\{name}");
        for view in views(scope) {
            let already = view.open(&client_path).is_some_and(|k| {
                k.get_value(PREVIOUS_DEFAULT).is_ok() || k.get_value(NO_PREVIOUS_DEFAULT).is_ok()
            });
            let mut created = Vec::new();
            let mail = view.create(MAIL, &mut created)?;
            let client = view.create(&client_path, &mut created)?;
            if !already {
                // Record the state before us, once: re-registering keeps the original.
                match string(&mail, "") {
                    Some(prev) if !prev.eq_ignore_ascii_case(name) => client
                        .set_string(PREVIOUS_DEFAULT, prev)
                        .map_err(|e| e.to_string())?,
                    _ => client
                        .set_u32(NO_PREVIOUS_DEFAULT, 1)
                        .map_err(|e| e.to_string())?,
                }
            }
            client
                .set_string("", DISPLAY_NAME)
                .map_err(|e| e.to_string())?;
            client
                .set_expand_string("DLLPath", &dll_path)
                .map_err(|e| e.to_string())?;
            mail.set_string("", name).map_err(|e| e.to_string())?;
            if scope == Scope::Machine {
                let messaging = view.create(MESSAGING, &mut created)?;
                if !already {
                    match string(&messaging, "MAPI") {
                        Some(prev) => client
                            .set_string(PREVIOUS_MAPI, prev)
                            .map_err(|e| e.to_string())?,
                        None => client
                            .set_u32(NO_PREVIOUS_MAPI, 1)
                            .map_err(|e| e.to_string())?,
                    }
                }
                messaging
                    .set_string("MAPI", "1")
                    .map_err(|e| e.to_string())?;
            }
            if !already {
                // The client key itself goes with the tree; record only what lies outside it.
                created.retain(|k| !k.eq_ignore_ascii_case(&client_path));
                let refs: Vec<&str> = created.iter().map(String::as_str).collect();
                client
                    .set_multi_string(CREATED_KEYS, &refs)
                    .map_err(|e| e.to_string())?;
            }
            println!(
                "{}: {MAIL} default = {name}; DLLPath = {dll_path}",
                view.label
            );
        }
        Ok(())
    }

    pub fn unregister(scope: Scope, name: &str) -> Result<(), String> {
        let client_path = format!(r"{MAIL}\{name}");
        let mut found = false;
        for view in views(scope) {
            let Some(client) = view.open(&client_path) else {
                continue;
            };
            found = true;
            let previous_default = string(&client, PREVIOUS_DEFAULT);
            let previous_mapi = string(&client, PREVIOUS_MAPI);
            let had_mapi_record =
                previous_mapi.is_some() || client.get_value(NO_PREVIOUS_MAPI).is_ok();
            let created = client.get_multi_string(CREATED_KEYS).unwrap_or_default();
            drop(client);
            let mail = view.open_rw(MAIL)?;
            if string(&mail, "").is_some_and(|d| d.eq_ignore_ascii_case(name)) {
                restore(&mail, "", previous_default)?;
            }
            drop(mail);
            if had_mapi_record && let Ok(messaging) = view.open_rw(MESSAGING) {
                restore(&messaging, "MAPI", previous_mapi)?;
            }
            let mail_parent = view.open_rw(MAIL)?;
            mail_parent
                .remove_tree(name)
                .map_err(|e| format!("{} remove {client_path}: {e}", view.label))?;
            drop(mail_parent);
            for key in created.iter().rev() {
                if view.is_empty(key) {
                    let (parent, leaf) = key.rsplit_once('\\').unwrap_or(("", key));
                    let removed = if parent.is_empty() {
                        view.root
                            .options()
                            .write()
                            .access(view.access)
                            .open("")
                            .and_then(|k| k.remove_tree(leaf))
                    } else {
                        view.root
                            .options()
                            .read()
                            .write()
                            .access(view.access)
                            .open(parent)
                            .and_then(|k| k.remove_tree(leaf))
                    };
                    let message = err(&format!("{} remove {key}", view.label), removed);
                    if !message.is_empty() {
                        eprintln!("warning: {message}");
                    }
                }
            }
            println!(
                "{}: {name} unregistered; previous state restored",
                view.label
            );
        }
        if !found {
            return Err(format!("{name} is not registered ({scope:?} scope)"));
        }
        Ok(())
    }

    /// The provider Windows' mapi32.dll stub loads for a caller of `bits` bits.
    pub struct Provider {
        /// The view the default came from: HKCU, or HKLM.
        pub view: &'static str,
        pub client: String,
        /// `DLLPath` expanded in the caller's environment, as the caller opens it.
        pub dll: String,
    }

    /// HKCU's default mail client if it has one, else HKLM's (the order in which the stub
    /// reads them; `mapishim doctor` then checks that the file exists); `DLLPath` expanded
    /// with `%ProgramFiles%` and `%PROCESSOR_ARCHITECTURE%` as a `bits`-bit caller sees
    /// them (the MSI's per-user `DLLPath` names its build folder by the latter).
    pub fn provider_for(bits: u32) -> Option<Provider> {
        let roots = [
            View {
                root: CURRENT_USER,
                access: 0,
                label: "HKCU",
            },
            // `Clients` is one key for both HKLM views.
            View {
                root: LOCAL_MACHINE,
                access: KEY_WOW64_64KEY,
                label: "HKLM",
            },
        ];
        let view = roots.into_iter().find_map(|view| {
            let client = view
                .open(MAIL)
                .and_then(|k| string(&k, ""))
                .filter(|c| !c.is_empty())?;
            Some((view, client))
        });
        let (view, client) = view?;
        let raw = view
            .open(&format!(r"{MAIL}\{client}"))
            .and_then(|k| string(&k, "DLLPath"))
            .unwrap_or_default();
        let program_files = match bits {
            64 => std::env::var("ProgramW6432").or_else(|_| std::env::var("ProgramFiles")),
            _ => std::env::var("ProgramFiles(x86)").or_else(|_| std::env::var("ProgramFiles")),
        }
        .ok();
        let architecture = match bits {
            64 => std::env::var("PROCESSOR_ARCHITEW6432")
                .or_else(|_| std::env::var("PROCESSOR_ARCHITECTURE"))
                .ok(),
            _ => Some("x86".to_string()),
        };
        let dll = mapishim_core::config::expand_env(&raw, |v| {
            if v.eq_ignore_ascii_case("ProgramFiles") {
                program_files.clone()
            } else if v.eq_ignore_ascii_case("PROCESSOR_ARCHITECTURE") {
                architecture.clone()
            } else {
                std::env::var(v).ok()
            }
        });
        Some(Provider {
            view: view.label,
            client,
            dll: caller_view(&dll, bits),
        })
    }

    /// The file a caller of `bits` bits opens at `path`: WOW64 redirects a 32-bit
    /// program's System32 to SysWOW64, and a 32-bit process reaches the 64-bit one through
    /// Sysnative.
    fn caller_view(path: &str, bits: u32) -> String {
        let windir = std::env::var("SystemRoot").unwrap_or_else(|_| r"C:\windows".into());
        let system32 = format!(r"{windir}\System32\");
        let rest = path
            .get(..system32.len())
            .filter(|head| head.eq_ignore_ascii_case(&system32))
            .map(|_| &path[system32.len()..]);
        match (rest, own_bits(), bits) {
            (Some(rest), 64, 32) => format!(r"{windir}\SysWOW64\{rest}"),
            (Some(rest), 32, 64) => format!(r"{windir}\Sysnative\{rest}"),
            _ => path.to_string(),
        }
    }

    fn own_bits() -> u32 {
        if cfg!(target_pointer_width = "64") {
            64
        } else {
            32
        }
    }

    pub fn status() -> Result<(), String> {
        let ours = default_dll().ok();
        let lookup = |v: &str| std::env::var(v).ok();
        let all: Vec<View> = views(Scope::User)
            .into_iter()
            .chain(views(Scope::Machine))
            .collect();
        for view in &all {
            let default = view.open(MAIL).and_then(|k| string(&k, ""));
            match &default {
                None => println!("{}: {MAIL}: no default mail client", view.label),
                Some(name) => {
                    let raw = view
                        .open(&format!(r"{MAIL}\{name}"))
                        .and_then(|k| string(&k, "DLLPath"));
                    let shown = raw.clone().unwrap_or_else(|| "(no DLLPath)".into());
                    let expanded = raw
                        .as_deref()
                        .map(|r| mapishim_core::config::expand_env(r, lookup))
                        .unwrap_or_default();
                    let exists = !expanded.is_empty() && Path::new(&expanded).is_file();
                    let is_ours = ours.as_ref().is_some_and(|o| {
                        Path::new(&expanded).file_name() == o.file_name()
                            && std::fs::metadata(&expanded).map(|m| m.len()).ok()
                                == std::fs::metadata(o).map(|m| m.len()).ok()
                    });
                    println!(
                        "{}: default mail client {name:?}; DLLPath {shown} -> {expanded} ({}{})",
                        view.label,
                        if exists { "exists" } else { "MISSING" },
                        if is_ours { ", this mapishim build" } else { "" }
                    );
                }
            }
        }
        for view in views(Scope::Machine) {
            let mapi = view.open(MESSAGING).and_then(|k| string(&k, "MAPI"));
            println!(
                "{}: {MESSAGING}\\MAPI = {}",
                view.label,
                mapi.as_deref().unwrap_or("(not set)")
            );
        }
        let beside = "A program with a mapi32.dll beside it loads that one instead, \
unless it restricts its DLL search to System32 (SetDefaultDllDirectories, as 7-Zip 21 and later do): \
such a program is reached only through registration or a System32 copy.";
        match provider_for(own_bits()) {
            Some(p) if !Path::new(&p.dll).is_file() => println!(
                "A program calling Windows' mapi32.dll stub finds {}'s default mail client {:?}, whose DLLPath {} does not exist: \
such a program may find no provider, because HKCU's default takes precedence over HKLM's. Wine's builtin mapi32 reads HKLM only. {beside}",
                p.view, p.client, p.dll
            ),
            Some(p) => println!(
                "A program calling Windows' mapi32.dll stub loads {} (from {}; the stub reads HKCU first). \
Wine's builtin mapi32 reads HKLM only. {beside}",
                p.dll, p.view
            ),
            None => println!(
                "No registered provider: a program loads a mapi32.dll beside it if there is one, else the system's. \
Programs that restrict their DLL search to System32 (SetDefaultDllDirectories, as 7-Zip 21 and later do) \
never load one beside them: register mapishim for those."
            ),
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn program_files_paths_become_portable() {
        let dirs = vec![
            r"C:\Program Files".to_string(),
            r"C:\Program Files (x86)".to_string(),
        ];
        assert_eq!(
            portable_dll_path(Path::new(r"C:\Program Files\mapishim\mapishim.dll"), &dirs),
            r"%ProgramFiles%\mapishim\mapishim.dll"
        );
        assert_eq!(
            portable_dll_path(
                Path::new(r"c:\program files (x86)\mapishim\mapishim.dll"),
                &dirs
            ),
            r"%ProgramFiles%\mapishim\mapishim.dll"
        );
        assert_eq!(
            portable_dll_path(Path::new(r"D:\tools\mapishim.dll"), &dirs),
            r"D:\tools\mapishim.dll"
        );
    }

    #[test]
    fn expands_like_windows() {
        let env = |v: &str| (v == "ProgramFiles").then(|| r"C:\Program Files (x86)".to_string());
        assert_eq!(
            mapishim_core::config::expand_env(r"%ProgramFiles%\m\mapishim.dll", env),
            r"C:\Program Files (x86)\m\mapishim.dll"
        );
        assert_eq!(
            mapishim_core::config::expand_env(r"%Nope%\x %", env),
            r"%Nope%\x %"
        );
    }

    #[test]
    fn a_path_with_variables_is_registered_as_given() {
        let dir = tempfile::tempdir().unwrap();
        let arch = dir.path().join("AMD64");
        std::fs::create_dir(&arch).unwrap();
        std::fs::write(arch.join("mapishim.dll"), b"MZ").unwrap();
        let raw = dir
            .path()
            .join("%PROCESSOR_ARCHITECTURE%")
            .join("mapishim.dll");
        let env = |v: &str| (v == "PROCESSOR_ARCHITECTURE").then(|| "AMD64".to_string());
        assert_eq!(
            registered_dll_path(&raw, &[], env).unwrap(),
            raw.display().to_string()
        );
        let none = |_: &str| None;
        assert!(
            registered_dll_path(&raw, &[], none)
                .unwrap_err()
                .contains("does not exist")
        );
        let named_mapi32 = dir
            .path()
            .join("%PROCESSOR_ARCHITECTURE%")
            .join("mapi32.dll");
        assert!(registered_dll_path(&named_mapi32, &[], env).is_err());
        let plain = arch.join("mapishim.dll");
        assert_eq!(
            registered_dll_path(&plain, &[], none).unwrap(),
            plain.display().to_string()
        );
    }

    #[test]
    fn refuses_mapi32_as_provider() {
        assert!(check_provider_name(Path::new(r"C:\x\MAPI32.DLL")).is_err());
        assert!(check_provider_name(Path::new(r"C:\x\mapishim.dll")).is_ok());
    }
}
