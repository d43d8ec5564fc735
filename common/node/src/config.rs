//! TOML configuration: parsing with serde (the config structs use `deny_unknown_fields`) and
//! validation errors that name the key they are about.

use serde::de::DeserializeOwned;
use std::fmt;

/// A configuration error. Its `Display` names the key and what is wrong with it, so an operator
/// can fix the file without reading code.
#[derive(Debug, Clone, thiserror::Error)]
pub enum ConfigError {
    /// The text is not valid TOML, or does not match the expected structure (unknown key, wrong
    /// type, missing key). The message from the TOML parser names the key and the line.
    #[error("{source_name}: {message}")]
    Syntax {
        source_name: String,
        message: String,
    },
    /// The structure is fine but a value is not acceptable.
    #[error("{source_name}: invalid value for `{key}`: {reason}")]
    Invalid {
        source_name: String,
        key: String,
        reason: String,
    },
}

/// Parses `text` (whose origin, usually a file path, is `source_name`) into `T`.
pub fn from_toml_str<T: DeserializeOwned>(source_name: &str, text: &str) -> Result<T, ConfigError> {
    toml::from_str(text).map_err(|e| ConfigError::Syntax {
        source_name: source_name.to_owned(),
        message: e.to_string().trim_end().replace('\n', " | "),
    })
}

/// Collects validation failures so that start-up reports all of them at once.
#[derive(Debug, Default)]
pub struct Validator {
    source_name: String,
    errors: Vec<ConfigError>,
}

impl Validator {
    pub fn new(source_name: impl Into<String>) -> Self {
        Self {
            source_name: source_name.into(),
            errors: Vec::new(),
        }
    }

    /// Records an error for `key` unless `ok` holds.
    pub fn check(&mut self, ok: bool, key: &str, reason: impl fmt::Display) {
        if !ok {
            self.errors.push(ConfigError::Invalid {
                source_name: self.source_name.clone(),
                key: key.to_owned(),
                reason: reason.to_string(),
            });
        }
    }

    /// Ends validation: `Ok` when nothing failed, otherwise every failure.
    pub fn finish(self) -> Result<(), Vec<ConfigError>> {
        if self.errors.is_empty() {
            Ok(())
        } else {
            Err(self.errors)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Sample {
        #[allow(dead_code)]
        listen: String,
        #[serde(default)]
        #[allow(dead_code)]
        port: u16,
    }

    #[test]
    fn unknown_key_is_named() {
        let err =
            from_toml_str::<Sample>("x.toml", "listen = \"a\"\nlisen_port = 3\n").unwrap_err();
        let text = err.to_string();
        assert!(text.starts_with("x.toml: "), "{text}");
        assert!(text.contains("lisen_port"), "{text}");
    }

    #[test]
    fn wrong_type_is_named() {
        let err =
            from_toml_str::<Sample>("x.toml", "listen = \"a\"\nport = \"high\"\n").unwrap_err();
        assert!(err.to_string().contains("port"), "{err}");
    }

    #[test]
    fn validator_collects_all_failures() {
        let mut v = Validator::new("y.toml");
        v.check(true, "a", "fine");
        v.check(false, "b.c", "must not be empty");
        v.check(false, "d", "out of range");
        let errs = v.finish().unwrap_err();
        assert_eq!(errs.len(), 2);
        assert_eq!(
            errs[0].to_string(),
            "y.toml: invalid value for `b.c`: must not be empty"
        );
    }
}
