//! `[mailbox]`: the Maildir store behind MAPIFindNext, MAPIReadMail, MAPISaveMail and
//! MAPIDeleteMail (see docs/mailbox.md).
use super::{ConfigError, Ctx};
use serde::Deserialize;
use std::path::PathBuf;
use toml::Spanned;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MailboxSettings {
    /// The Maildir (`cur/`, `new/`, `tmp/`) that MAPIFindNext walks; may be a Maildir++ folder.
    pub maildir: PathBuf,
    /// Where MAPISaveMail writes new messages; the maildir when absent.
    pub drafts: Option<PathBuf>,
    /// Where MAPIDeleteMail moves messages; they are deleted when absent.
    pub trash: Option<PathBuf>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct MailboxSection {
    maildir: Spanned<PathBuf>,
    drafts: Option<Spanned<PathBuf>>,
    trash: Option<Spanned<PathBuf>>,
}

impl MailboxSection {
    pub fn validate(&self, ctx: &Ctx<'_>) -> Result<MailboxSettings, ConfigError> {
        let folder = |p: &Spanned<PathBuf>, key: &str| {
            if p.get_ref().as_os_str().is_empty() {
                Err(ctx.at(p, key, "empty path"))
            } else {
                Ok(ctx.resolve(p))
            }
        };
        let optional = |p: &Option<Spanned<PathBuf>>, key: &str| {
            p.as_ref().map(|p| folder(p, key)).transpose()
        };
        Ok(MailboxSettings {
            maildir: folder(&self.maildir, "mailbox.maildir")?,
            drafts: optional(&self.drafts, "mailbox.drafts")?,
            trash: optional(&self.trash, "mailbox.trash")?,
        })
    }
}
