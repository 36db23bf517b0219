//! Choosing the release colour stamped into a handshake token.

/// Longest colour name accepted anywhere.
pub const MAX_COLOR_LEN: usize = 32;

/// True for a well-formed colour name: 1 to 32 of ASCII letters, digits, `-` and `_`.
pub fn is_valid(color: &str) -> bool {
    (1..=MAX_COLOR_LEN).contains(&color.len())
        && color
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// The account's own colour when it has one, else the deployment's default. The colour a
/// client requests is not honoured by this version.
pub fn pick(account_color: Option<&str>, default: &str) -> String {
    account_color
        .filter(|c| is_valid(c))
        .unwrap_or(default)
        .to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn account_colour_wins_over_the_default() {
        assert_eq!(pick(Some("blue"), "local"), "blue");
        assert_eq!(pick(None, "local"), "local");
        assert_eq!(pick(Some("bad colour!"), "local"), "local");
    }

    #[test]
    fn colour_names_are_bounded() {
        assert!(is_valid("green-2"));
        assert!(!is_valid(""));
        assert!(!is_valid(&"x".repeat(33)));
        assert!(!is_valid("a b"));
    }
}
