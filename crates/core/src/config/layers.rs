//! The files of a configuration merged into one TOML table before validation: the user's
//! file on top of the machine file, key by key, so that a user adds `[addressbook]` without
//! restating `[smtp]`. Every span is shifted by its file's `base`, so that an error in the
//! merged table still names the file and line it came from ([`Ctx::layer_at`]).
use super::error::Ctx;
use super::source::Origin;
use super::{ConfigError, TOP_KEYS};
use std::ops::Range;
use std::path::PathBuf;
use toml::Spanned;
use toml::de::{DeTable, DeValue};

/// Where one effective key came from, for `config check`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeySource {
    /// `backend`, `smtp.host`, `route` (an array of tables counts as one key).
    pub key: String,
    pub origin: Origin,
    /// The file and line that set it; `None` for a default.
    pub at: Option<(PathBuf, usize)>,
}

/// A key of the user's file that the machine file's `locked` refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LockedOverride {
    /// The locked top-level key or section the user's key belongs to.
    pub key: String,
    pub path: Option<PathBuf>,
    pub line: usize,
}

impl std::fmt::Display for LockedOverride {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if let Some(path) = &self.path {
            write!(f, "{}:", path.display())?;
        }
        write!(
            f,
            "{}: key `{}` is locked by the machine configuration; the user's value is ignored",
            self.line, self.key
        )
    }
}

pub(super) struct Merged<'a> {
    pub table: Spanned<DeTable<'a>>,
    pub locked: Vec<String>,
    pub overrides: Vec<LockedOverride>,
    pub sources: Vec<KeySource>,
}

/// Parses every file, applies `locked`, and merges them, the later over the earlier.
pub(super) fn merge<'a>(ctx: &Ctx<'a>) -> Result<Merged<'a>, ConfigError> {
    let mut table = DeTable::new();
    let mut locked = Vec::new();
    let mut overrides = Vec::new();
    for layer in ctx.layers {
        let mut upper = DeTable::parse(layer.text)
            .map_err(|e| parse_error(ctx, layer.base, &e))?
            .into_inner();
        shift_table(&mut upper, layer.base);
        if let Some((key, value)) = upper.remove_entry("locked") {
            if !layer.origin.may_lock() {
                return Err(ctx.at(
                    &key,
                    "locked",
                    "`locked` belongs in the machine file; the user's file cannot hold it",
                ));
            }
            locked.extend(lock_list(&value, ctx)?);
        }
        if layer.origin == Origin::User {
            refuse_locked(&mut upper, &locked, ctx, &mut overrides);
        }
        merge_tables(&mut table, upper);
    }
    let end = ctx.layers.last().map_or(0, |l| l.base + l.text.len());
    let mut sources = Vec::new();
    key_sources(&table, "", ctx, &mut sources);
    let set: Vec<&str> = table.keys().map(|k| k.get_ref().as_ref()).collect();
    for key in TOP_KEYS.iter().filter(|k| !set.contains(k)) {
        sources.push(KeySource {
            key: (*key).to_string(),
            origin: Origin::Default,
            at: None,
        });
    }
    Ok(Merged {
        table: Spanned::new(0..end, table),
        locked,
        overrides,
        sources,
    })
}

/// A TOML syntax error, in the file it is in.
pub(super) fn parse_error(ctx: &Ctx<'_>, base: usize, e: &toml::de::Error) -> ConfigError {
    // serde names the offending key in backquotes.
    let key = e.message().split('`').nth(1).map(str::to_string);
    let span = e.span().map(|s| s.start + base..s.end + base);
    ConfigError {
        key,
        ..ctx.error(span, None, e.message().trim())
    }
}

/// `locked = ["backend", "smtp"]`: names of top-level keys or sections.
fn lock_list(value: &Spanned<DeValue<'_>>, ctx: &Ctx<'_>) -> Result<Vec<String>, ConfigError> {
    let bad = |at: Range<usize>| {
        ctx.error(
            Some(at),
            Some("locked"),
            format!(
                "`locked` lists top-level keys or sections, among {}",
                TOP_KEYS.join(", ")
            ),
        )
    };
    let DeValue::Array(items) = value.get_ref() else {
        return Err(bad(value.span()));
    };
    items
        .iter()
        .map(|item| match item.get_ref().as_str() {
            Some(name) if TOP_KEYS.contains(&name) => Ok(name.to_string()),
            _ => Err(bad(item.span())),
        })
        .collect()
}

/// Drops the user's keys under a locked name, recording each attempt.
fn refuse_locked(
    upper: &mut DeTable<'_>,
    locked: &[String],
    ctx: &Ctx<'_>,
    overrides: &mut Vec<LockedOverride>,
) {
    for name in locked {
        if let Some((key, _)) = upper.remove_entry(name.as_str()) {
            let start = key.span().start;
            overrides.push(LockedOverride {
                key: name.clone(),
                path: ctx.layer_at(start).and_then(|l| l.path).map(Into::into),
                line: ctx.line(start),
            });
        }
    }
}

/// `upper` over `lower`: tables merge key by key, any other value (arrays too) replaces.
fn merge_tables<'a>(lower: &mut DeTable<'a>, upper: DeTable<'a>) {
    for (key, value) in upper {
        let span = value.span();
        match (
            lower.get_mut(&key).map(Spanned::get_mut),
            value.into_inner(),
        ) {
            (Some(DeValue::Table(below)), DeValue::Table(above)) => merge_tables(below, above),
            (_, value) => {
                // Removed first: an insert would keep the lower file's key and its span.
                lower.remove(&key);
                lower.insert(key, Spanned::new(span, value));
            }
        }
    }
}

fn shifted(span: Range<usize>, by: usize) -> Range<usize> {
    span.start + by..span.end + by
}

fn shift_table(table: &mut DeTable<'_>, by: usize) {
    if by == 0 {
        return;
    }
    *table = std::mem::take(table)
        .into_iter()
        .map(|(key, mut value)| {
            shift_value(&mut value, by);
            let span = shifted(key.span(), by);
            (Spanned::new(span, key.into_inner()), value)
        })
        .collect();
}

fn shift_value(value: &mut Spanned<DeValue<'_>>, by: usize) {
    match value.get_mut() {
        DeValue::Table(t) => shift_table(t, by),
        // In place: the array keeps its array-of-tables mark.
        DeValue::Array(a) => a.iter_mut().for_each(|v| shift_value(v, by)),
        _ => {}
    }
    let span = shifted(value.span(), by);
    let inner = std::mem::replace(value.get_mut(), DeValue::Boolean(false));
    *value = Spanned::new(span, inner);
}

/// Every leaf of the merged table with the file it came from.
fn key_sources(table: &DeTable<'_>, prefix: &str, ctx: &Ctx<'_>, out: &mut Vec<KeySource>) {
    for (key, value) in table {
        let name = format!("{prefix}{}", key.get_ref());
        if let DeValue::Table(inner) = value.get_ref() {
            key_sources(inner, &format!("{name}."), ctx, out);
            continue;
        }
        let start = key.span().start;
        let layer = ctx.layer_at(start);
        out.push(KeySource {
            key: name,
            origin: layer.map_or(Origin::Default, |l| l.origin),
            at: layer
                .and_then(|l| l.path)
                .map(|p| (p.to_path_buf(), ctx.line(start))),
        });
    }
}
