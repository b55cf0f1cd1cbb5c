//! `mapishim auth login | status | logout`: the built-in OAuth2 sign-in of `[oauth2]`.
use mapishim_core::config::{OAuth2Flow, OAuth2Settings, Settings};
use std::process::{Command, Stdio};

/// The `[oauth2]` settings, or why this configuration has none.
pub fn oauth2_of(settings: &Settings) -> Result<&OAuth2Settings, String> {
    if let Some(o) = &settings.oauth2 {
        return Ok(o);
    }
    let command = settings
        .smtp
        .as_ref()
        .and_then(|s| s.oauth2_token_command.as_ref());
    Err(match command {
        Some(c) => format!(
            "tokens come from oauth2_token_command {:?}: sign in with that program",
            c.first().map(String::as_str).unwrap_or("")
        ),
        None => "this configuration uses no OAuth2 sign-in (see docs/accounts.md)".into(),
    })
}

/// The account the tokens are for: the SMTP user name, else the sender.
pub fn account_of(settings: &Settings) -> Option<String> {
    settings
        .smtp
        .as_ref()
        .and_then(|s| s.username.clone())
        .or_else(|| settings.from.as_ref().map(|f| f.address.clone()))
}

pub fn login(settings: &Settings) -> Result<(), String> {
    let oauth2 = oauth2_of(settings)?;
    let account = account_of(settings);
    let record = match oauth2.flow {
        OAuth2Flow::Device => mapishim_oauth2::device_login(oauth2, account.as_deref(), |prompt| {
            println!(
                "To sign in{}, open {} and enter the code {} (valid for {} min).",
                account
                    .as_deref()
                    .map(|a| format!(" as {a}"))
                    .unwrap_or_default(),
                prompt.verification_uri,
                prompt.user_code,
                prompt.expires_in.div_ceil(60)
            );
            if desktop() {
                let url = prompt
                    .verification_uri_complete
                    .as_deref()
                    .unwrap_or(&prompt.verification_uri);
                if let Err(e) = open_url(url) {
                    println!("(could not open a browser: {e})");
                }
            }
            println!("Waiting for the sign-in to finish…");
        }),
        OAuth2Flow::Browser => {
            let pending = mapishim_oauth2::browser_login(oauth2, account.as_deref())
                .map_err(|e| e.to_string())?;
            println!(
                "Opening the sign-in page in your browser; if none opens, visit:\n{}",
                pending.authorization_url
            );
            if let Err(e) = open_url(&pending.authorization_url) {
                println!("(could not open a browser: {e})");
            }
            println!("Waiting for the browser on {}…", pending.redirect_uri);
            pending.finish(oauth2, account.as_deref())
        }
    }
    .map_err(|e| e.to_string())?;
    println!(
        "signed in{}; scopes: {}",
        record
            .account
            .as_deref()
            .map(|a| format!(" as {a}"))
            .unwrap_or_default(),
        record.scopes.join(" ")
    );
    println!("tokens stored in {}", oauth2.token_file.display());
    if record.refresh_token.is_none() {
        println!(
            "warning: the server gave no refresh token (scope offline_access?): sends will need a new sign-in when the access token expires"
        );
    }
    Ok(())
}

/// One line per fact; `Ok(false)` when no usable sign-in is stored.
pub fn status_lines(oauth2: &OAuth2Settings) -> (Vec<(&'static str, String)>, bool) {
    let mut lines = vec![("token file", oauth2.token_file.display().to_string())];
    let status = match mapishim_oauth2::status(oauth2) {
        Ok(s) => s,
        Err(e) => {
            lines.push(("signed in", format!("no ({e})")));
            return (lines, false);
        }
    };
    let Some(status) = status else {
        lines.push(("signed in", "no: run `mapishim auth login`".to_string()));
        return (lines, false);
    };
    if status.other_client {
        lines.push((
            "signed in",
            "no: the stored tokens belong to another client_id or token_url; run `mapishim auth login`".into(),
        ));
        return (lines, false);
    }
    lines.push((
        "account",
        status.account.clone().unwrap_or_else(|| "(unknown)".into()),
    ));
    lines.push(("scopes", status.scopes.join(" ")));
    lines.push((
        "access token",
        match status.access_expires_at {
            Some(at) => expiry(at),
            None => "none stored".into(),
        },
    ));
    lines.push((
        "refresh token",
        if status.has_refresh_token {
            "stored".into()
        } else {
            "none: a new sign-in is needed once the access token expires".to_string()
        },
    ));
    let usable = status.usable();
    lines.push((
        "signed in",
        if usable {
            "yes".into()
        } else {
            "no: run `mapishim auth login`".to_string()
        },
    ));
    (lines, usable)
}

fn expiry(at: u64) -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let when = time::OffsetDateTime::from_unix_timestamp(at as i64)
        .ok()
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_else(|| at.to_string());
    if at > now {
        format!("expires {when} (in {} min)", (at - now).div_ceil(60))
    } else {
        format!("expired {when} (refreshed at the next send)")
    }
}

pub fn status(settings: &Settings) -> Result<bool, String> {
    let oauth2 = oauth2_of(settings)?;
    let (lines, usable) = status_lines(oauth2);
    for (label, text) in lines {
        println!("{:<15}{text}", format!("{label}:"));
    }
    Ok(usable)
}

pub fn logout(settings: &Settings) -> Result<(), String> {
    let oauth2 = oauth2_of(settings)?;
    match mapishim_oauth2::logout(oauth2).map_err(|e| e.to_string())? {
        true => println!("signed out: {} deleted", oauth2.token_file.display()),
        false => println!(
            "not signed in: {} does not exist",
            oauth2.token_file.display()
        ),
    }
    Ok(())
}

/// A graphical session where a browser can open (the device flow opens one only there).
fn desktop() -> bool {
    cfg!(windows)
        || std::env::var_os("DISPLAY").is_some()
        || std::env::var_os("WAYLAND_DISPLAY").is_some()
}

/// Opens `url` in the user's browser: `$BROWSER` when set (the convention on Unix; the
/// tests' stand-in browser comes this way), else the platform's opener; under Wine the
/// host's `xdg-open` through `start /unix`, as the composer does.
fn open_url(url: &str) -> Result<(), String> {
    let mut command = if let Some(browser) = std::env::var_os("BROWSER").filter(|b| !b.is_empty()) {
        let first = browser
            .to_string_lossy()
            .split(if cfg!(windows) { ';' } else { ':' })
            .next()
            .unwrap_or("")
            .to_string();
        Command::new(first)
    } else if cfg!(windows) && std::env::var_os("WINECONFIGDIR").is_some() {
        let mut c = Command::new("start.exe");
        c.args(["/unix", "/usr/bin/xdg-open"]);
        c
    } else if cfg!(windows) {
        let mut c = Command::new("rundll32.exe");
        c.arg("url.dll,FileProtocolHandler");
        c
    } else if cfg!(target_os = "macos") {
        Command::new("open")
    } else {
        Command::new("xdg-open")
    };
    // Not waited for: a browser may run for hours. Its output must not mix with ours.
    command
        .arg(url)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map(|_| ())
        .map_err(|e| e.to_string())
}
