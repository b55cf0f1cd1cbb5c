//! `[addressbook]`: the vCard files names resolve against.
use super::Ctx;
use serde::Deserialize;
use std::path::PathBuf;
use toml::Spanned;

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct AddressBookSection {
    #[serde(default)]
    vcard: Vec<Spanned<PathBuf>>,
}

impl AddressBookSection {
    pub fn validate(&self, ctx: &Ctx<'_>) -> Vec<PathBuf> {
        self.vcard.iter().map(|p| ctx.resolve(p)).collect()
    }
}
