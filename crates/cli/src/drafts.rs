//! `mapishim drafts push` and the `[imap]` lines of `config check` (docs/webmail.md).
use mapishim_core::config::{DraftsVia, Settings};
use mapishim_imap::{SpecialUse, display_name};

/// What `config check` prints about `[imap]`; with `connect`, it logs in and looks the
/// mailboxes up. Never prints a secret: only the source of the password or token.
pub fn report(s: &Settings, connect: bool, warnings: &mut Vec<String>) -> Result<(), String> {
    let via_graph = s
        .composer
        .as_ref()
        .is_some_and(|c| c.drafts_via() == Some(DraftsVia::Graph));
    if connect && via_graph {
        let graph = mapishim_engine::registry::graph_backend(s).ok_or("no [graph] settings")?;
        let folder = graph
            .drafts_folder()
            .map_err(|e| format!("graph: cannot reach the Drafts folder: {e}"))?;
        println!("drafts folder: {folder} (Microsoft Graph, signed in)");
    }
    let Some(imap) = &s.imap else {
        if connect && !via_graph {
            return Err("--connect: no [imap] section to connect to".into());
        }
        return Ok(());
    };
    let credentials = if imap.auth.uses_tokens() {
        match &imap.oauth2_token_command {
            Some(c) => format!(
                "{} tokens from command {:?}",
                imap.auth.name(),
                c.first().map(String::as_str).unwrap_or("")
            ),
            None => format!("{} tokens from the [oauth2] sign-in", imap.auth.name()),
        }
    } else {
        format!("password from {:?}", imap.password)
    };
    println!(
        "imap:          {}:{} ({}), user {}, {credentials}, timeout {} s{}",
        imap.host,
        imap.port,
        match imap.security {
            mapishim_core::config::Security::Tls => "tls",
            mapishim_core::config::Security::Starttls => "starttls",
            mapishim_core::config::Security::None => "none",
        },
        imap.username.as_deref().unwrap_or(""),
        imap.timeout_secs,
        if imap.save_sent { ", save_sent" } else { "" }
    );
    let account = mapishim_engine::registry::imap_account(s).expect("[imap] is configured");
    if !connect {
        println!(
            "drafts folder: {}",
            imap.drafts_folder.as_deref().unwrap_or(
                "the \\Drafts special-use mailbox (RFC 6154), else \"Drafts\" (--connect looks it up)"
            )
        );
        return Ok(());
    }
    let mut session = account
        .login()
        .map_err(|why| format!("imap: cannot log in: {why}"))?;
    println!(
        "imap login:    OK as {}",
        imap.username.as_deref().unwrap_or("")
    );
    let drafts = account
        .mailbox(&mut session, SpecialUse::Drafts)
        .map_err(|why| format!("imap: LIST failed: {why}"))?;
    println!("drafts folder: {}", display_name(&drafts));
    if imap.save_sent {
        let sent = account
            .mailbox(&mut session, SpecialUse::Sent)
            .map_err(|why| format!("imap: LIST failed: {why}"))?;
        println!("sent folder:   {}", display_name(&sent));
    }
    if imap.save_sent && imap.provider == Some(mapishim_core::config::ImapProvider::Gmail) {
        warnings.push(
            "save_sent with Gmail: Gmail files SMTP submissions in Sent itself, so each message would show twice".into(),
        );
    }
    session.logout();
    Ok(())
}

/// Uploads the drafts kept in `<outbox>/drafts/` (through Graph with `[composer] via =
/// "graph"`, else `[imap]`); fails when any stays.
pub fn push(s: &Settings) -> Result<(), String> {
    let via = s
        .composer
        .as_ref()
        .and_then(|c| c.drafts_via())
        .unwrap_or(DraftsVia::Imap);
    let store = mapishim_engine::registry::draft_store(s, via).ok_or(
        "drafts push needs an [imap] section, or [composer] kind = \"drafts\" with via = \"graph\"",
    )?;
    let summary = mapishim_composer::push(store.as_ref(), &s.outbox_dir);
    for path in &summary.uploaded {
        println!("uploaded: {}", path.display());
    }
    for (path, why) in &summary.failed {
        println!("kept: {} ({why})", path.display());
    }
    let remaining = mapishim_outbox::Outbox::new(mapishim_composer::kept_drafts_dir(&s.outbox_dir))
        .list()
        .map(|l| l.len())
        .unwrap_or(0);
    println!("{} uploaded, {remaining} kept", summary.uploaded.len());
    if remaining > 0 {
        return Err(format!("{remaining} draft(s) still kept"));
    }
    Ok(())
}
