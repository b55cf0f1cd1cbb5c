//! The error every section reports, and what a section's `validate` knows about the file.
use super::source::Origin;
use std::fmt;
use std::ops::Range;
use std::path::{Path, PathBuf};
use toml::Spanned;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    pub path: Option<PathBuf>,
    pub line: Option<usize>,
    pub key: Option<String>,
    pub message: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.path {
            Some(p) => write!(f, "{}", p.display())?,
            None => write!(f, "configuration")?,
        }
        if let Some(line) = self.line {
            write!(f, ":{line}")?;
        }
        if let Some(key) = &self.key {
            write!(f, ": key `{key}`")?;
        }
        write!(f, ": {}", self.message)
    }
}

impl std::error::Error for ConfigError {}

/// One file of the configuration: its text (for line numbers), its path (for relative paths
/// and for messages) and where its text starts in the span space of the merged table
/// ([`super::layers`] shifts every span of a file by its `base`).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Layer<'a> {
    pub origin: Origin,
    pub path: Option<&'a Path>,
    pub text: &'a str,
    pub base: usize,
}

/// The files being validated, lowest first (the machine file, then the user's).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Ctx<'a> {
    pub layers: &'a [Layer<'a>],
}

impl<'a> Ctx<'a> {
    /// The file that holds `offset` (a span start in the merged table).
    pub fn layer_at(&self, offset: usize) -> Option<&'a Layer<'a>> {
        self.layers.iter().rev().find(|l| l.base <= offset)
    }

    /// The file an error without a line is reported against: the topmost one.
    pub fn path(&self) -> Option<&'a Path> {
        self.layers.last().and_then(|l| l.path)
    }

    /// The file holding `value`.
    pub fn path_of<T>(&self, value: &Spanned<T>) -> Option<&'a Path> {
        self.layer_at(value.span().start).and_then(|l| l.path)
    }

    /// `file:line: key `key`: message`; the file and line are those of `span` when given.
    pub fn error(
        &self,
        span: Option<Range<usize>>,
        key: Option<&str>,
        message: impl Into<String>,
    ) -> ConfigError {
        let path = match &span {
            Some(s) => self.layer_at(s.start).and_then(|l| l.path),
            None => self.path(),
        };
        ConfigError {
            path: path.map(Path::to_path_buf),
            line: span.map(|s| self.line(s.start)),
            key: key.map(str::to_string),
            message: message.into(),
        }
    }

    /// An error about one value, on its line.
    pub fn at<T>(&self, value: &Spanned<T>, key: &str, message: impl Into<String>) -> ConfigError {
        self.error(Some(value.span()), Some(key), message)
    }

    /// A warning in the same `file:line: key` shape as an error.
    pub fn warning<T>(&self, value: &Spanned<T>, key: &str, message: &str) -> String {
        format!(
            "{}:{}: key `{key}`: {message}",
            self.path_of(value)
                .map(|p| p.display().to_string())
                .unwrap_or_default(),
            self.line(value.span().start)
        )
    }

    /// The line, in its own file, of a span start in the merged table.
    pub fn line(&self, offset: usize) -> usize {
        let Some(layer) = self.layer_at(offset) else {
            return 1;
        };
        let offset = offset - layer.base;
        layer
            .text
            .get(..offset)
            .unwrap_or(layer.text)
            .matches('\n')
            .count()
            + 1
    }

    /// Relative paths are relative to the folder of the file that holds them; `~/` is the
    /// home folder.
    pub fn resolve(&self, p: &Spanned<PathBuf>) -> PathBuf {
        let path = p.get_ref();
        if let Ok(rest) = path.strip_prefix("~")
            && let Some(home) = dirs::home_dir()
        {
            return home.join(rest);
        }
        match self.path_of(p).and_then(Path::parent) {
            Some(base) if path.is_relative() => base.join(path),
            _ => path.clone(),
        }
    }
}
