//! `mapishim config write-machine | remove-machine`: the machine-wide configuration file
//! that the MSI's public properties (CONFIG_FILE, SMTP_HOST, SMTP_PORT, SMTP_SECURITY,
//! FROM) fill in, and that its uninstall removes (docs/deploy-windows.md).
//!
//! Values go through the TOML serializer, never into the text as they are, and the result
//! must load as a configuration before anything is written.
use crate::init::toml_string;
use mapishim_core::config::Settings;
use std::path::{Path, PathBuf};

/// What the installer passes; an empty text is a property that was not set.
#[derive(Debug, Default, Clone)]
pub struct MachineConfig {
    pub file: Option<String>,
    pub smtp_host: Option<String>,
    pub smtp_port: Option<String>,
    pub smtp_security: Option<String>,
    pub from: Option<String>,
}

fn given(value: &Option<String>) -> Option<&str> {
    value.as_deref().map(str::trim).filter(|v| !v.is_empty())
}

/// Where this platform's machine file is (the one the configuration is read from).
pub fn machine_file() -> Result<PathBuf, String> {
    mapishim_core::config::machine_file().ok_or_else(|| {
        "ProgramData is not set: cannot tell where the machine configuration goes".into()
    })
}

/// The file's text: the named file as it is, or one made from the SMTP values.
pub fn render(config: &MachineConfig) -> Result<String, String> {
    let (host, port, security, from) = (
        given(&config.smtp_host),
        given(&config.smtp_port),
        given(&config.smtp_security),
        given(&config.from),
    );
    if let Some(file) = given(&config.file) {
        if host.is_some() || port.is_some() || security.is_some() || from.is_some() {
            return Err(
                "CONFIG_FILE (--file) replaces the whole file: give it or SMTP_HOST, SMTP_PORT, SMTP_SECURITY and FROM, not both"
                    .into(),
            );
        }
        let text = std::fs::read_to_string(file).map_err(|e| format!("{file}: {e}"))?;
        Settings::from_toml(&text, Some(Path::new(file))).map_err(|e| e.to_string())?;
        return Ok(text);
    }
    if host.is_none() && (port.is_some() || security.is_some()) {
        return Err("SMTP_PORT and SMTP_SECURITY need SMTP_HOST".into());
    }
    if host.is_none() && from.is_none() {
        return Err(
            "nothing to write: give CONFIG_FILE (--file), or SMTP_HOST (--smtp-host) or FROM (--from)"
                .into(),
        );
    }
    let mut out = String::from(
        "# The machine-wide mapishim configuration, written by `mapishim config write-machine`\n\
         # (the MSI's SMTP_HOST, SMTP_PORT, SMTP_SECURITY and FROM). Each user's own file is\n\
         # read on top of it. Keys: docs/configuration.md.\n\n",
    );
    if host.is_some() {
        out.push_str("backend = \"smtp\"\n");
    }
    if let Some(from) = from {
        out.push_str(&format!("from = {}\n", toml_string(from)));
    }
    if let Some(host) = host {
        out.push_str(&format!("\n[smtp]\nhost = {}\n", toml_string(host)));
        if let Some(port) = port {
            let number: u16 = port
                .parse()
                .ok()
                .filter(|p| *p != 0)
                .ok_or_else(|| format!("SMTP_PORT {port:?} is not a port number (1-65535)"))?;
            out.push_str(&format!("port = {number}\n"));
        }
        if let Some(security) = security {
            out.push_str(&format!("security = {}\n", toml_string(security)));
        }
    }
    // The checks of a real load: a bad FROM or SECURITY fails here, with the key named.
    Settings::from_toml(&out, None).map_err(|e| format!("the values given: {e}"))?;
    Ok(out)
}

/// Writes the machine file (replacing it); readable by every user, unlike the per-user
/// files (it holds no secret: passwords stay in each user's own file or keyring).
pub fn write(config: &MachineConfig) -> Result<(), String> {
    let text = render(config)?;
    let target = machine_file()?;
    let dir = target.parent().ok_or("the machine file has no folder")?;
    std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let temp = dir.join(format!(
        "{}config.toml.{}",
        mapishim_core::files::TEMP_PREFIX,
        std::process::id()
    ));
    mapishim_core::files::write_atomically(&temp, &target, |w| w.write_all(text.as_bytes()))
        .map_err(|e| e.to_string())?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&target, std::fs::Permissions::from_mode(0o644))
            .map_err(|e| format!("{}: {e}", target.display()))?;
    }
    println!("{}", target.display());
    Ok(())
}

/// Removes the machine file and its folder when nothing else is in it; nothing to remove
/// is not an error (an uninstall after REGISTER-only installs).
pub fn remove() -> Result<(), String> {
    let target = machine_file()?;
    match std::fs::remove_file(&target) {
        Ok(()) => println!("removed {}", target.display()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(format!("{}: {e}", target.display())),
    }
    if let Some(dir) = target.parent() {
        // Fails, as it should, while the folder holds anything else.
        let _ = std::fs::remove_dir(dir);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn smtp(host: &str, port: &str, from: &str) -> MachineConfig {
        MachineConfig {
            smtp_host: Some(host.into()),
            smtp_port: Some(port.into()),
            from: Some(from.into()),
            ..MachineConfig::default()
        }
    }

    #[test]
    fn values_are_toml_escaped_and_load() {
        let text = render(&smtp(
            "smtp.example.org",
            "2525",
            "Ops \"Desk\" \\ <ops@example.org>",
        ))
        .unwrap();
        let table: toml::Table = text.parse().unwrap();
        assert_eq!(
            table["from"].as_str(),
            Some("Ops \"Desk\" \\ <ops@example.org>")
        );
        let settings = Settings::from_toml(&text, None).unwrap();
        assert_eq!(settings.from.unwrap().address, "ops@example.org");
        let smtp = settings.smtp.unwrap();
        assert_eq!((smtp.host.as_str(), smtp.port), ("smtp.example.org", 2525));
        assert_eq!(settings.backend.name(), "smtp");
    }

    #[test]
    fn a_value_cannot_add_keys() {
        let text = render(&smtp("h\"\nport = 1\n#", "", "a@example.org"));
        // Either refused as a host name or kept as one string: never a second key.
        if let Ok(text) = text {
            let table: toml::Table = text.parse().unwrap();
            assert_eq!(table["smtp"].as_table().unwrap().len(), 1, "{text}");
        }
    }

    #[test]
    fn empty_properties_are_absent_and_bad_ones_refused() {
        assert!(
            render(&MachineConfig::default())
                .unwrap_err()
                .contains("nothing to write")
        );
        let from_only = MachineConfig {
            from: Some("a@example.org".into()),
            smtp_host: Some(" ".into()),
            ..MachineConfig::default()
        };
        assert!(!render(&from_only).unwrap().contains("[smtp]"));
        assert!(
            render(&smtp("h", "70000", ""))
                .unwrap_err()
                .contains("SMTP_PORT")
        );
        let port_only = MachineConfig {
            smtp_port: Some("25".into()),
            ..MachineConfig::default()
        };
        assert!(render(&port_only).unwrap_err().contains("need SMTP_HOST"));
        let mut bad_security = smtp("h", "25", "");
        bad_security.smtp_security = Some("ssl3".into());
        assert!(render(&bad_security).is_err());
    }

    #[test]
    fn a_named_file_is_checked_and_kept_as_it_is() {
        let dir = tempfile::tempdir().unwrap();
        let good = dir.path().join("good.toml");
        std::fs::write(&good, "# site\nfrom = \"a@example.org\"\n").unwrap();
        let config = MachineConfig {
            file: Some(good.display().to_string()),
            ..MachineConfig::default()
        };
        assert_eq!(
            render(&config).unwrap(),
            "# site\nfrom = \"a@example.org\"\n"
        );
        let bad = dir.path().join("bad.toml");
        std::fs::write(&bad, "backend = \"nope\"\n").unwrap();
        let config = MachineConfig {
            file: Some(bad.display().to_string()),
            ..MachineConfig::default()
        };
        assert!(render(&config).unwrap_err().contains("bad.toml"));
        let both = MachineConfig {
            from: Some("a@example.org".into()),
            ..config
        };
        assert!(render(&both).unwrap_err().contains("not both"));
    }
}
