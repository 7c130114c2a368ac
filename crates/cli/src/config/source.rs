//! Where the configuration comes from: the TOML file (optional), `ASSETSYNC_*` environment variables over it
//! (figment merges the two), then the `_file` twins of the secrets. Problems are sentences that quote no value.

use super::{Config, Problems};
use figment::providers::{Env, Format, Toml};
use figment::value::{Dict, Map, Value};
use figment::{Figment, Metadata, Profile, Provider};
use std::path::{Path, PathBuf};

/// The prefix of the environment variables that set configuration keys.
pub const ENV_PREFIX: &str = "ASSETSYNC_";

/// `ASSETSYNC_*` variables that are not configuration keys (the store's key, the tests' database).
const NOT_KEYS: &[&str] = &["secret_key", "secret_key_file", "test_postgres"];

/// The file (when given) and the environment, merged; relative paths made relative to the file's folder (the
/// working directory without a file); secrets read from their `_file` twins.
pub(super) fn read(path: Option<&Path>) -> Result<Config, Problems> {
    let mut figment = Figment::new();
    if let Some(path) = path {
        let text = std::fs::read_to_string(path).map_err(|error| {
            Problems::one(format!(
                "could not read the configuration file {}: {error}",
                path.display()
            ))
        })?;
        // The parser's own message quotes the offending line, which may hold a secret: report position only.
        if let Err(error) = toml::from_str::<toml::Table>(&text) {
            let line = error.span().map_or(0, |span| {
                text[..span.start.min(text.len())].lines().count().max(1)
            });
            return Err(Problems::one(format!(
                "{} is not a valid configuration (line {line}): {}",
                path.display(),
                error.message()
            )));
        }
        figment = figment.merge(Toml::string(&text));
    }
    let figment = figment.merge(Environment::new());
    let mut config: Config = figment
        .extract_lossy()
        .map_err(|error| Problems(every_error(&figment, error)))?;
    let base = path.and_then(Path::parent).unwrap_or(Path::new(""));
    config.resolve_paths(base);
    let problems = read_secret_files(&mut config);
    if problems.is_empty() {
        Ok(config)
    } else {
        Err(Problems(problems))
    }
}

/// The keys of the configuration's top level (the fields of [`Config`]).
const TOP_LEVEL_KEYS: &[&str] = &[
    "listen",
    "database_url",
    "database_url_file",
    "admin_token",
    "admin_token_file",
    "admin",
    "aem",
    "events",
    "commerce",
    "sync",
    "metrics",
    "http",
    "log",
];

/// The first extraction error, then those of each table extracted alone (serde stops at a table's first
/// error, so every table has its say), without repeats.
fn every_error(figment: &Figment, first: figment::Error) -> Vec<String> {
    use super::{
        AemConfig, CommerceConfig, EventsConfig, HttpConfig, LogConfig, MetricsConfig, SyncConfig,
    };
    fn table<T: serde::de::DeserializeOwned>(figment: &Figment, name: &str) -> Vec<figment::Error> {
        if !figment.contains(name) {
            return Vec::new();
        }
        match figment.extract_inner_lossy::<T>(name) {
            Ok(_) => Vec::new(),
            // A table's errors come with the table's name last in their path.
            Err(error) => error
                .into_iter()
                .map(|mut error| {
                    if error.path.last().is_some_and(|last| last == name) {
                        error.path.pop();
                        error.path.insert(0, name.to_owned());
                    }
                    error
                })
                .collect(),
        }
    }
    let unknown = figment
        .data()
        .ok()
        .and_then(|mut data| data.remove(&Profile::Default))
        .map(|top| {
            top.keys()
                .filter(|key| !TOP_LEVEL_KEYS.contains(&key.as_str()))
                .map(|key| {
                    let kind = figment::error::Kind::UnknownField(key.clone(), TOP_LEVEL_KEYS);
                    let mut error = figment::Error::from(kind).with_path(key);
                    error.metadata = figment.find_metadata(key).cloned();
                    error
                })
                .collect::<Vec<_>>()
        })
        .unwrap_or_default();
    let errors = first
        .into_iter()
        .chain(unknown)
        .chain(table::<AemConfig>(figment, "aem"))
        .chain(table::<EventsConfig>(figment, "events"))
        .chain(table::<CommerceConfig>(figment, "commerce"))
        .chain(table::<SyncConfig>(figment, "sync"))
        .chain(table::<MetricsConfig>(figment, "metrics"))
        .chain(table::<HttpConfig>(figment, "http"))
        .chain(table::<LogConfig>(figment, "log"));
    let mut problems: Vec<String> = Vec::new();
    for error in errors {
        let problem = describe(&error);
        if !problems.contains(&problem) {
            problems.push(problem);
        }
    }
    problems
}

/// The `ASSETSYNC_*` environment variables as configuration keys: `ASSETSYNC_ADMIN_TOKEN` is `admin_token`,
/// `ASSETSYNC_AEM__CLIENT_SECRET` is `[aem] client_secret` (`__` between a table and its key). Values stay
/// strings, so that a token or an id made of digits is not read as a number (numbers and booleans are read
/// from their text when a key wants one); a value in brackets (`[a.pem, b.pem]`) is a list.
struct Environment(Env);

impl Environment {
    fn new() -> Self {
        Self(Env::prefixed(ENV_PREFIX).split("__").ignore(NOT_KEYS))
    }
}

impl Provider for Environment {
    fn metadata(&self) -> Metadata {
        Metadata::named("environment").interpolater(|_, keys| env_name(keys))
    }

    fn data(&self) -> Result<Map<Profile, Dict>, figment::Error> {
        let mut dict = Dict::new();
        for (key, raw) in self.0.iter() {
            let value = match raw.parse::<Value>() {
                Ok(list @ Value::Array(..)) => list,
                _ => Value::from(raw),
            };
            let path: Vec<&str> = key.as_str().split('.').collect();
            insert(&mut dict, &path, value);
        }
        Ok(Profile::Default.collect(dict))
    }
}

/// The environment variable of a key path (`["aem", "client_secret"]` → `ASSETSYNC_AEM__CLIENT_SECRET`).
pub fn env_name<K: AsRef<str>>(keys: &[K]) -> String {
    let keys: Vec<String> = keys
        .iter()
        .map(|k| k.as_ref().to_ascii_uppercase())
        .collect();
    format!("{ENV_PREFIX}{}", keys.join("__"))
}

fn insert(dict: &mut Dict, path: &[&str], value: Value) {
    match path {
        [] => {}
        [last] => {
            dict.insert((*last).to_owned(), value);
        }
        [first, rest @ ..] => {
            let entry = dict
                .entry((*first).to_owned())
                .or_insert_with(|| Value::from(Dict::new()));
            if !matches!(entry, Value::Dict(..)) {
                *entry = Value::from(Dict::new());
            }
            if let Value::Dict(_, inner) = entry {
                insert(inner, rest, value);
            }
        }
    }
}

/// One extraction error as a sentence naming the key and where it came from, never the value (it may be a
/// secret given the wrong type).
fn describe(error: &figment::Error) -> String {
    use figment::error::Kind;
    let from_env = error
        .metadata
        .as_ref()
        .is_some_and(|m| m.name == "environment");
    let mut key = error.path.join(".");
    let message = match &error.kind {
        Kind::MissingField(field) => {
            key = if key.is_empty() {
                field.to_string()
            } else {
                format!("{key}.{field}")
            };
            "is missing".to_owned()
        }
        Kind::UnknownField(field, _) => {
            if error.path.last() != Some(field) {
                key = if key.is_empty() {
                    field.clone()
                } else {
                    format!("{key}.{field}")
                };
            }
            "is not a setting".to_owned()
        }
        Kind::InvalidType(actual, expected) => {
            let expected = match expected.as_str() {
                "u8" | "u16" | "u32" | "u64" | "usize" | "i8" | "i16" | "i32" | "i64" => {
                    "a whole number"
                }
                other => other,
            };
            format!("must be {expected}, not {}", kind_of(actual))
        }
        Kind::InvalidValue(_, expected) => format!("is not a valid value: expected {expected}"),
        Kind::InvalidLength(_, expected) => format!("has the wrong length: expected {expected}"),
        Kind::UnknownVariant(_, expected) => {
            format!("is not one of {}", expected.join(", "))
        }
        Kind::ISizeOutOfRange(_) | Kind::USizeOutOfRange(_) => "is out of range".to_owned(),
        Kind::Message(message) => message.clone(),
        other => other.to_string(),
    };
    let key = if key.is_empty() {
        "the configuration".to_owned()
    } else {
        key
    };
    if from_env {
        let var = env_name(&key.split('.').collect::<Vec<_>>());
        format!("{key} ({var}) {message}")
    } else {
        format!("{key} {message}")
    }
}

fn kind_of(actual: &figment::error::Actual) -> &'static str {
    use figment::error::Actual;
    match actual {
        Actual::Bool(_) => "a boolean",
        Actual::Unsigned(_) | Actual::Signed(_) | Actual::Float(_) => "a number",
        Actual::Char(_) | Actual::Str(_) => "a string",
        Actual::Seq => "a list",
        Actual::Map => "a table",
        _ => "this kind of value",
    }
}

/// Reads every secret's `_file` twin (trailing newline trimmed) into the secret; a secret set both ways, or a
/// file that cannot be read, is a problem.
fn read_secret_files(config: &mut Config) -> Vec<String> {
    let mut problems = Vec::new();
    let mut admin_token = Some(std::mem::take(&mut config.admin_token)).filter(|t| !t.is_empty());
    twin(
        "admin_token",
        &mut admin_token,
        &mut config.admin_token_file,
        &mut problems,
    );
    config.admin_token = admin_token.unwrap_or_default();
    let mut database_url = Some(std::mem::take(&mut config.database_url)).filter(|t| !t.is_empty());
    twin(
        "database_url",
        &mut database_url,
        &mut config.database_url_file,
        &mut problems,
    );
    config.database_url = database_url.unwrap_or_default();
    let aem = &mut config.aem;
    twin(
        "aem.client_secret",
        &mut aem.client_secret,
        &mut aem.client_secret_file,
        &mut problems,
    );
    twin(
        "aem.access_token",
        &mut aem.access_token,
        &mut aem.access_token_file,
        &mut problems,
    );
    let commerce = &mut config.commerce;
    twin(
        "commerce.consumer_secret",
        &mut commerce.consumer_secret,
        &mut commerce.consumer_secret_file,
        &mut problems,
    );
    twin(
        "commerce.access_token",
        &mut commerce.access_token,
        &mut commerce.access_token_file,
        &mut problems,
    );
    twin(
        "commerce.access_token_secret",
        &mut commerce.access_token_secret,
        &mut commerce.access_token_secret_file,
        &mut problems,
    );
    if let Some(oidc) = config.admin.oidc.as_mut() {
        twin(
            "admin.oidc.client_secret",
            &mut oidc.client_secret,
            &mut oidc.client_secret_file,
            &mut problems,
        );
    }
    problems
}

/// `value` from `file` when only the file is given (the file is then forgotten).
fn twin(
    name: &str,
    value: &mut Option<String>,
    file: &mut Option<PathBuf>,
    problems: &mut Vec<String>,
) {
    let Some(path) = file.take() else {
        return;
    };
    if value.is_some() {
        problems.push(format!(
            "{name} and {name}_file are both set: keep one of them"
        ));
        return;
    }
    match std::fs::read_to_string(&path) {
        Ok(text) => {
            let text = text.strip_suffix('\n').unwrap_or(&text);
            let text = text.strip_suffix('\r').unwrap_or(text);
            *value = Some(text.to_owned());
        }
        Err(error) => problems.push(format!(
            "{name}_file: could not read {}: {error}",
            path.display()
        )),
    }
}
