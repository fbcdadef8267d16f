//! Reading the LLM settings from the deployment and checking the base URL.

use crate::http::{Target, redact};
use crate::{Context, Error};

use super::{API_KEY_SETTING, BASE_URL_SETTING, MODEL_SETTING};

/// The three settings, read and trimmed.
#[derive(Debug)]
pub(super) struct Settings {
    pub(super) base_url: String,
    pub(super) model: String,
    pub(super) api_key: String,
}

/// A setting that `from_config` reads, with the example value its hint shows.
struct Setting {
    name: &'static str,
    example: &'static str,
    secret: bool,
}

const SETTINGS: [Setting; 3] = [
    Setting {
        name: BASE_URL_SETTING,
        example: "https://api.openai.com/v1",
        secret: false,
    },
    Setting {
        name: MODEL_SETTING,
        example: "<model>",
        secret: false,
    },
    Setting {
        name: API_KEY_SETTING,
        example: "<key>",
        secret: true,
    },
];

/// Reads the three settings. A setting that is absent or blank counts as
/// missing, and the error names every missing one with its `crewhost config
/// set` command.
pub(super) fn read(ctx: &Context) -> Result<Settings, Error> {
    let deployment = &ctx.run_info().deployment_id;
    let values: Vec<Option<String>> = SETTINGS
        .iter()
        .map(|setting| {
            ctx.config(setting.name)
                .map(|value| value.trim().to_owned())
                .filter(|value| !value.is_empty())
        })
        .collect();

    let missing: Vec<&Setting> = SETTINGS
        .iter()
        .zip(&values)
        .filter(|(_, value)| value.is_none())
        .map(|(setting, _)| setting)
        .collect();
    if !missing.is_empty() {
        return Err(missing_error(&missing, deployment));
    }

    let [base_url, model, api_key] = <[Option<String>; 3]>::try_from(values)
        .expect("one value per setting")
        .map(|value| value.expect("missing settings returned above"));
    Ok(Settings {
        base_url: base_url_setting(&base_url, deployment)?,
        model,
        api_key,
    })
}

/// Checks the `LLM_BASE_URL` setting and drops trailing slashes.
fn base_url_setting(value: &str, deployment: &str) -> Result<String, Error> {
    normalize_base_url(value).map_err(|problem| {
        Error::failed(format!(
            "the setting `{BASE_URL_SETTING}` is invalid: {problem}. Set it with \
             `crewhost config set {deployment} {BASE_URL_SETTING}=https://api.openai.com/v1` \
             or the base URL of another OpenAI-compatible server"
        ))
    })
}

/// Returns `base_url` without trailing slashes, or the problem with it. The
/// problem shows the URL redacted, because user info or a query may contain
/// credentials.
pub(super) fn normalize_base_url(base_url: &str) -> Result<String, String> {
    let trimmed = base_url.trim().trim_end_matches('/');
    let target = Target::parse(trimmed).map_err(|error| {
        // The parse error already names the redacted URL.
        error.message().to_owned()
    })?;
    if target.path_with_query.contains('?') {
        return Err(format!(
            "`{}` has a query, but the SDK appends `/chat/completions` to the base URL",
            redact(trimmed)
        ));
    }
    Ok(trimmed.to_owned())
}

fn missing_error(missing: &[&Setting], deployment: &str) -> Error {
    let names = join(missing.iter().map(|setting| format!("`{}`", setting.name)));
    let commands = join(missing.iter().map(|setting| {
        let secret = if setting.secret { " --secret" } else { "" };
        format!(
            "`crewhost config set {deployment} {}={}{secret}`",
            setting.name, setting.example
        )
    }));

    let (noun, verb, pronoun) = if missing.len() == 1 {
        ("setting", "is", "it")
    } else {
        ("settings", "are", "them")
    };
    Error::failed(format!(
        "the {noun} {names} {verb} not set. Set {pronoun} with {commands}"
    ))
}

/// Joins items as `a`, `a and b` or `a, b and c`.
fn join(items: impl Iterator<Item = String>) -> String {
    let items: Vec<String> = items.collect();
    match items.as_slice() {
        [] => String::new(),
        [only] => only.clone(),
        [rest @ .., last] => format!("{} and {last}", rest.join(", ")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalize_drops_trailing_slashes() {
        assert_eq!(
            normalize_base_url(" https://api.openai.com/v1// ").unwrap(),
            "https://api.openai.com/v1"
        );
        assert_eq!(
            normalize_base_url("http://127.0.0.1:11434/v1").unwrap(),
            "http://127.0.0.1:11434/v1"
        );
    }

    #[test]
    fn normalize_rejects_user_info_without_showing_it() {
        let problem = normalize_base_url("https://me:sk-123@llm.example.com/v1").unwrap_err();

        assert!(
            problem.contains("https://***@llm.example.com/v1"),
            "{problem}"
        );
        assert!(!problem.contains("sk-123"), "{problem}");
    }

    #[test]
    fn normalize_rejects_query() {
        let problem = normalize_base_url("https://llm.example.com/v1?key=sk-9").unwrap_err();

        assert_eq!(
            problem,
            "`https://llm.example.com/v1?…` has a query, but the SDK appends \
             `/chat/completions` to the base URL"
        );
    }

    #[test]
    fn join_uses_commas_and_and() {
        let words = |items: &[&str]| join(items.iter().map(|item| (*item).to_owned()));

        assert_eq!(words(&["a"]), "a");
        assert_eq!(words(&["a", "b"]), "a and b");
        assert_eq!(words(&["a", "b", "c"]), "a, b and c");
    }
}
