//! OpenClaw's `${VAR}` references inside config strings, read the way OpenClaw 2026.9.6 reads them
//! (`src/config/env-substitution.ts` in the npm package): a `$` followed by `{NAME}` where NAME
//! matches `[A-Z_][A-Z0-9_]*` is a substitution; `$${NAME}` is the escaped form and yields the
//! literal text `${NAME}`; anything else is literal. Substitution is a single pass, so a resolved
//! value is never scanned again.

/// One piece of a config string as OpenClaw sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Piece<'a> {
    Literal(&'a str),
    /// `${NAME}`: OpenClaw replaces it with the environment variable NAME.
    Reference(&'a str),
    /// `$${NAME}`: OpenClaw turns it into the literal `${NAME}`.
    Escaped(&'a str),
}

fn is_var_name(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_uppercase() || c == '_')
        && chars.all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_')
}

/// The variable name of a `{NAME}` token starting at `brace` (the index of `{`), and the index of
/// its closing `}`. Like OpenClaw, the name runs to the *first* `}`.
fn name_at(value: &str, brace: usize) -> Option<(&str, usize)> {
    let start = brace + 1;
    let end = start + value.get(start..)?.find('}')?;
    let name = &value[start..end];
    is_var_name(name).then_some((name, end))
}

/// Splits a config string into literal text, references and escaped references.
pub fn parse(value: &str) -> Vec<Piece<'_>> {
    let bytes = value.as_bytes();
    let mut pieces = Vec::new();
    let mut literal_start = 0;
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] != b'$' {
            i += 1;
            continue;
        }
        let token = if bytes.get(i + 1) == Some(&b'$') && bytes.get(i + 2) == Some(&b'{') {
            name_at(value, i + 2).map(|(name, end)| (Piece::Escaped(name), end))
        } else {
            None
        }
        .or_else(|| {
            (bytes.get(i + 1) == Some(&b'{'))
                .then(|| name_at(value, i + 1))
                .flatten()
                .map(|(name, end)| (Piece::Reference(name), end))
        });
        match token {
            Some((piece, end)) => {
                if literal_start < i {
                    pieces.push(Piece::Literal(&value[literal_start..i]));
                }
                pieces.push(piece);
                i = end + 1;
                literal_start = i;
            }
            None => i += 1,
        }
    }
    if literal_start < value.len() {
        pieces.push(Piece::Literal(&value[literal_start..]));
    }
    pieces
}

/// The names of the variables OpenClaw would substitute into `value`.
pub fn references(value: &str) -> Vec<&str> {
    parse(value)
        .into_iter()
        .filter_map(|piece| match piece {
            Piece::Reference(name) => Some(name),
            _ => None,
        })
        .collect()
}

/// Makes `value` come out of OpenClaw's substitution exactly as given: every `${NAME}` token gets
/// one more `$`. A run of k dollars before `{NAME}` reads back as k-1 dollars plus `{NAME}`, so
/// adding one dollar per token is exact, including for values that already contain `$${`.
pub fn escape(value: &str) -> String {
    let bytes = value.as_bytes();
    let mut out = String::with_capacity(value.len() + 4);
    let mut copied = 0;
    for i in 0..bytes.len() {
        if bytes[i] == b'$' && bytes.get(i + 1) == Some(&b'{') && name_at(value, i + 1).is_some() {
            out.push_str(&value[copied..i]);
            out.push('$');
            copied = i;
        }
    }
    out.push_str(&value[copied..]);
    out
}

/// What OpenClaw makes of `value` given the environment `lookup` (for tests of [`escape`]).
/// Unset variables stay as their reference, as with OpenClaw's `onMissing` mode.
pub fn resolve(value: &str, lookup: impl Fn(&str) -> Option<String>) -> String {
    parse(value)
        .into_iter()
        .map(|piece| match piece {
            Piece::Literal(text) => text.to_owned(),
            Piece::Escaped(name) => format!("${{{name}}}"),
            Piece::Reference(name) => lookup(name).unwrap_or_else(|| format!("${{{name}}}")),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    fn secret_env(name: &str) -> Option<String> {
        (name == "OPENCLAW_API_KEY").then(|| "sk-live-secret".to_owned())
    }

    #[rstest]
    #[case("plain", vec![Piece::Literal("plain")])]
    #[case("${A}", vec![Piece::Reference("A")])]
    #[case("x$${A}y", vec![Piece::Literal("x"), Piece::Escaped("A"), Piece::Literal("y")])]
    #[case("${lower}", vec![Piece::Literal("${lower}")])]
    #[case("${a${B}}", vec![Piece::Literal("${a"), Piece::Reference("B"), Piece::Literal("}")])]
    #[case("$$$${B}", vec![Piece::Literal("$$"), Piece::Escaped("B")])]
    #[case("${UNCLOSED", vec![Piece::Literal("${UNCLOSED")])]
    fn parses_like_openclaw(#[case] value: &str, #[case] expected: Vec<Piece<'_>>) {
        assert_eq!(parse(value), expected);
    }

    #[rstest]
    #[case("${OPENCLAW_API_KEY}")]
    #[case("model-${OPENCLAW_API_KEY}-x")]
    #[case("$${OPENCLAW_API_KEY}")]
    #[case("$$${OPENCLAW_API_KEY}")]
    #[case("${a${OPENCLAW_API_KEY}}")]
    #[case("${lower} $ {X} ${} $")]
    #[case("\"}, \"apiKey\": \"${OPENCLAW_API_KEY}")]
    fn escaped_values_resolve_to_themselves_and_never_to_a_secret(#[case] value: &str) {
        let escaped = escape(value);
        let resolved = resolve(&escaped, secret_env);
        assert_eq!(resolved, value);
        assert!(!resolved.contains("sk-live-secret"));
        assert!(
            references(&escaped).is_empty(),
            "{escaped} still references a variable"
        );
    }

    #[test]
    fn escape_leaves_plain_values_alone() {
        assert_eq!(escape("gpt-4o-mini"), "gpt-4o-mini");
        assert_eq!(escape("costs $5"), "costs $5");
    }

    mod prop {
        use super::super::*;
        use proptest::prelude::*;

        proptest! {
            #[test]
            fn escape_round_trips(value in "[$\\{\\}A-Z_a-z0-9 ]{0,24}") {
                let escaped = escape(&value);
                prop_assert!(references(&escaped).is_empty());
                prop_assert_eq!(resolve(&escaped, |_| Some("SECRET".into())), value);
            }
        }
    }
}
