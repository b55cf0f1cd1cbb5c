//! `mapishim config init`: a commented configuration for a new user of a big mail
//! service (or any SMTP server with `--host`), checked before it is written.
use mapishim_core::config::{BACKENDS, PLACEHOLDER_CLIENT_ID, Provider, Settings};
use std::io::Write;
use std::path::{Path, PathBuf};

pub struct Init {
    pub provider: Option<String>,
    pub address: String,
    pub client_id: Option<String>,
    pub backend: String,
    pub host: Option<String>,
    pub force: bool,
}

pub(crate) fn toml_string(text: &str) -> String {
    toml::Value::String(text.to_string()).to_string()
}

/// The file's text. Refuses combinations that cannot work.
pub fn render(init: &Init) -> Result<String, String> {
    let address = init.address.trim();
    if !address.contains('@') || address.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(format!("--address {address:?} is not a mail address"));
    }
    let provider = match (&init.provider, &init.host) {
        (Some(_), Some(_)) => return Err("give --provider or --host, not both".into()),
        (None, None) => {
            return Err("give --provider (microsoft365, outlook.com, gmail) or --host".into());
        }
        (Some(name), None) => Some(Provider::from_name(name).ok_or_else(|| {
            format!("unknown provider {name:?}: microsoft365, outlook.com or gmail")
        })?),
        (None, Some(_)) => None,
    };
    let graph = match init.backend.as_str() {
        "smtp" => false,
        "graph" => true,
        other => return Err(format!("--backend {other:?}: smtp or graph")),
    };
    if graph && !BACKENDS.iter().any(|b| b.name == "graph") {
        return Err("this build has no graph backend; use --backend smtp".into());
    }
    if graph && !provider.is_some_and(Provider::is_microsoft) {
        return Err("--backend graph is for Microsoft 365 and Outlook.com accounts".into());
    }
    let a = toml_string(address);
    let mut out = String::new();
    let title = provider.map_or_else(
        || format!("the SMTP server {}", init.host.as_deref().unwrap_or("")),
        |p| p.name().to_string(),
    );
    out.push_str(&format!(
        "# mapishim configuration for {address} ({title}), written by `mapishim config init`.\n\
         # Keys: docs/configuration.md. Accounts and app registrations: docs/accounts.md.\n\n"
    ));
    let Some(provider) = provider else {
        let host = init.host.as_deref().unwrap_or("").trim();
        if host.is_empty() || host.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(format!("--host {host:?} is not a host name"));
        }
        out.push_str(&format!(
            "backend = \"smtp\"\nfrom = {a}\n\n[smtp]\nhost = {}\n\
             # port = 587\n# security = \"starttls\"   # starttls (default) | tls (port 465)\n\
             username = {a}\n\
             # The password comes from a program (a keyring, a password manager); it must print\n\
             # the password on its first line. Replace this one with yours.\n\
             password_command = [\"secret-tool\", \"lookup\", \"mapishim\", {a}]\n",
            toml_string(host)
        ));
        return Ok(out);
    };
    let preset = provider.preset();
    let client_id = init
        .client_id
        .as_deref()
        .map(str::trim)
        .unwrap_or(PLACEHOLDER_CLIENT_ID);
    if graph {
        out.push_str(&format!(
            "backend = \"graph\"\nfrom = {a}\n\n[graph]\n\
             # Sends with Microsoft Graph (POST /me/sendMail) as the signed-in user; the preset\n\
             # fills the [oauth2] endpoints and the Mail.Send and Mail.ReadWrite scopes.\n\
             provider = \"{}\"\n\
             # endpoint = \"https://graph.microsoft.com/v1.0\"\n\
             save_to_sent = true           # a copy in Sent Items\n\n",
            preset.name
        ));
    } else {
        out.push_str(&format!(
            "backend = \"smtp\"\nfrom = {a}\n\n[smtp]\n\
             # The preset fills host ({}), port {}, STARTTLS, and the [oauth2] endpoints and\n\
             # scopes; a key written here wins over the preset.\n\
             provider = \"{}\"\nusername = {a}\n\
             auth = \"xoauth2\"             # or \"oauthbearer\"\n",
            preset.smtp_host, preset.smtp_port, preset.name
        ));
        if provider.is_microsoft() {
            out.push_str(
                "# SMTP AUTH must be enabled for this mailbox (docs/accounts.md); where the tenant\n\
                 # forbids it, use `mapishim config init --backend graph`.\n",
            );
        }
        out.push_str(
            "# Instead of the built-in sign-in below, a helper such as pizauth or oama can\n\
             # provide the tokens:\n# oauth2_token_command = [\"pizauth\", \"show\", \"mail\"]\n\n",
        );
    }
    out.push_str("[oauth2]\n");
    if provider.is_microsoft() {
        out.push_str(&format!(
            "# The application (client) ID of your app registration in Microsoft Entra: a public\n\
             # client with the device code flow and the delegated {}.\n\
             client_id = {}\n\
             # tenant = \"organizations\"   # your tenant ID or domain; default \"{}\"\n\
             flow = \"device\"              # or \"browser\"\n",
            if graph {
                "permissions Mail.Send and Mail.ReadWrite"
            } else {
                "permission SMTP.Send"
            },
            toml_string(client_id),
            preset.default_tenant.unwrap_or("common")
        ));
    } else {
        out.push_str(&format!(
            "# The client ID of your Google Cloud OAuth client (type \"Desktop app\"). Google's\n\
             # device flow does not allow the mail scope, so the sign-in opens a browser.\n\
             client_id = {}\n\
             flow = \"browser\"\n\
             # Google gives desktop clients a secret too; name the environment variable that\n\
             # holds it:\n# client_secret_env = \"MAPISHIM_GOOGLE_CLIENT_SECRET\"\n",
            toml_string(client_id)
        ));
    }
    out.push_str("# token_file = \"…\"            # default: the per-user data folder\n");
    Ok(out)
}

/// Writes the file (0600, atomically), keeping an existing one as a backup with `--force`.
pub fn run(init: &Init, path: &Path) -> Result<(), String> {
    let text = render(init)?;
    // What is written must pass `config check` unchanged.
    Settings::from_toml(&text, Some(path)).map_err(|e| format!("internal error: {e}"))?;
    let backup = if path.exists() {
        if !init.force {
            return Err(format!(
                "{} exists; add --force to replace it (the old one is kept as a backup)",
                path.display()
            ));
        }
        let backup = backup_name(path);
        std::fs::copy(path, &backup)
            .map_err(|e| format!("cannot back up {}: {e}", path.display()))?;
        Some(backup)
    } else {
        None
    };
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    mapishim_core::files::create_private_dir_all(dir)
        .map_err(|e| format!("{}: {e}", dir.display()))?;
    let mut tmp = tempfile::Builder::new()
        .prefix(".tmp-config-")
        .tempfile_in(dir)
        .map_err(|e| format!("{}: {e}", dir.display()))?;
    tmp.write_all(text.as_bytes())
        .and_then(|_| tmp.as_file().sync_all())
        .map_err(|e| format!("{}: {e}", path.display()))?;
    tmp.persist(path)
        .map_err(|e| format!("{}: {}", path.display(), e.error))?;
    println!("wrote {}", path.display());
    if let Some(backup) = backup {
        println!("the previous file is kept as {}", backup.display());
    }
    Ok(())
}

/// `<file>.bak`, or `<file>.bak.N` for the first N not taken.
fn backup_name(path: &Path) -> PathBuf {
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(".bak");
    let first = path.with_file_name(&name);
    if !first.exists() {
        return first;
    }
    (1..)
        .map(|n| {
            let mut numbered = name.clone();
            numbered.push(format!(".{n}"));
            path.with_file_name(numbered)
        })
        .find(|p| !p.exists())
        .expect("some number is free")
}
