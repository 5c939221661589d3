//! Secrets the CLI is given (a secret access key, the admin token): from a flag, an
//! environment variable or a file, and never shown by `Debug`.

use std::fmt;
use std::path::Path;

use anyhow::{Context, bail};

/// A secret string. `Debug` prints `<redacted>`; [`expose`](Self::expose) is the only way in.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// The secret itself, for the one place that needs it.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// The first line of `path`, without its line ending; an empty file is refused.
    pub fn read(path: &Path, what: &str) -> anyhow::Result<Self> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read {what} from {}", path.display()))?;
        let line = text.lines().next().unwrap_or_default().trim();
        if line.is_empty() {
            bail!("{} is empty; it should hold {what}", path.display());
        }
        Ok(Self(line.to_owned()))
    }

    /// `flag` (from the command line or the environment), else the contents of `file`.
    pub fn from_flag_or_file(
        flag: Option<Secret>,
        file: Option<&Path>,
        what: &str,
    ) -> anyhow::Result<Option<Self>> {
        match (flag, file) {
            (Some(secret), _) => Ok(Some(secret)),
            (None, Some(path)) => Self::read(path, what).map(Some),
            (None, None) => Ok(None),
        }
    }
}

impl std::str::FromStr for Secret {
    type Err = std::convert::Infallible;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(Self(s.to_owned()))
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(kvs_proto::redact::REDACTED)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_hides_the_value_and_files_are_read_to_the_first_line() {
        let secret: Secret = "hunter2".parse().unwrap();
        assert_eq!(format!("{secret:?}"), "<redacted>");
        assert_eq!(format!("{:?}", Some(secret.clone())), "Some(<redacted>)");
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("token");
        std::fs::write(&path, "from-file\n").unwrap();
        let read = Secret::from_flag_or_file(None, Some(&path), "the admin token").unwrap();
        assert_eq!(read.unwrap().expose(), "from-file");
        let flag = Secret::from_flag_or_file(Some(secret), Some(&path), "x").unwrap();
        assert_eq!(flag.unwrap().expose(), "hunter2", "the flag wins");
        std::fs::write(&path, "\n").unwrap();
        let err = Secret::read(&path, "the admin token").unwrap_err();
        assert!(err.to_string().contains("is empty"), "{err}");
    }
}
