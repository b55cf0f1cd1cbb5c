//! The error every section reports, and what a section's `validate` knows about the file.
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

/// The file being validated: its text (for line numbers) and its path (for relative paths
/// and for messages).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Ctx<'a> {
    pub text: &'a str,
    pub path: Option<&'a Path>,
}

impl Ctx<'_> {
    /// `file:line: key `key`: message`; the line is that of `span` when given.
    pub fn error(
        &self,
        span: Option<Range<usize>>,
        key: Option<&str>,
        message: impl Into<String>,
    ) -> ConfigError {
        ConfigError {
            path: self.path.map(Path::to_path_buf),
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
            self.path
                .map(|p| p.display().to_string())
                .unwrap_or_default(),
            self.line(value.span().start)
        )
    }

    pub fn line(&self, offset: usize) -> usize {
        self.text
            .get(..offset)
            .unwrap_or(self.text)
            .matches('\n')
            .count()
            + 1
    }

    /// Relative paths in the file are relative to the file's folder; `~/` is the home folder.
    pub fn resolve(&self, p: &Path) -> PathBuf {
        if let Ok(rest) = p.strip_prefix("~")
            && let Some(home) = dirs::home_dir()
        {
            return home.join(rest);
        }
        match self.path.and_then(Path::parent) {
            Some(base) if p.is_relative() => base.join(p),
            _ => p.to_path_buf(),
        }
    }
}
