//! Gray release: which colour a handshake token carries. Rules are evaluated in order: the
//! account allow-lists, the account's own colour, shares of accounts by a stable hash, client
//! version ranges, the client's requested colour (only if requestable), and last the default.
//! The colour is stamped into each token when it is issued, so changing the rules changes new
//! tokens only.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::color;
use super::ids::AccountId;

/// The `[gray]` section of the configuration.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct GrayRules {
    /// Accounts pinned to a colour; checked first.
    pub allow: Vec<AllowRule>,
    /// Shares of all accounts, by a stable hash of the account id; taken in order, cumulative.
    pub percent: Vec<PercentRule>,
    /// Client version ranges, inclusive, in order.
    pub version: Vec<VersionRule>,
    /// Colours a client may ask for; any other request is ignored.
    pub requestable: Vec<String>,
    /// Salt of the stable hash; changing it reshuffles the shares. Default empty.
    pub salt: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AllowRule {
    pub color: String,
    pub accounts: Vec<i64>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PercentRule {
    pub color: String,
    pub percent: u8,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VersionRule {
    pub color: String,
    /// Lowest matching version, such as `2.0` or `2.1.3`.
    pub min: String,
    /// Highest matching version.
    pub max: String,
}

/// What a colour is picked from.
#[derive(Debug, Clone, Copy)]
pub struct Ask<'a> {
    pub account: AccountId,
    pub account_color: Option<&'a str>,
    pub requested: &'a str,
    pub client_version: &'a str,
}

/// A dotted version, compared number by number (`2.10` > `2.9`; missing parts are 0).
fn parse_version(text: &str) -> Option<Vec<u64>> {
    let text = text.trim().trim_start_matches('v');
    if text.is_empty() || text.len() > 32 {
        return None;
    }
    let mut parts: Vec<u64> = text
        .split('.')
        .map(|p| p.parse().ok())
        .collect::<Option<_>>()?;
    while parts.last() == Some(&0) {
        parts.pop();
    }
    Some(parts)
}

impl GrayRules {
    /// Checks every rule; answers the offending key and why.
    pub fn validate(&self) -> Result<(), (&'static str, String)> {
        let colors = self
            .allow
            .iter()
            .map(|r| &r.color)
            .chain(self.percent.iter().map(|r| &r.color));
        let colors = colors
            .chain(self.version.iter().map(|r| &r.color))
            .chain(&self.requestable);
        if let Some(bad) = colors.into_iter().find(|c| !color::is_valid(c)) {
            return Err((
                "gray",
                format!("colour {bad:?} is not 1 to 32 of letters, digits, '-', '_'"),
            ));
        }
        let total: u32 = self.percent.iter().map(|r| u32::from(r.percent)).sum();
        if total > 100 {
            return Err((
                "gray.percent",
                format!("shares add up to {total}%, more than 100%"),
            ));
        }
        for rule in &self.version {
            let (Some(min), Some(max)) = (parse_version(&rule.min), parse_version(&rule.max))
            else {
                return Err((
                    "gray.version",
                    format!("{:?}..{:?} is not a version range", rule.min, rule.max),
                ));
            };
            if min > max {
                return Err((
                    "gray.version",
                    format!("{} is above {}", rule.min, rule.max),
                ));
            }
        }
        Ok(())
    }

    /// The colour for a token, by the rules in order; `default` when none applies.
    pub fn pick(&self, ask: Ask<'_>, default: &str) -> String {
        if let Some(rule) = self
            .allow
            .iter()
            .find(|r| r.accounts.contains(&ask.account.0))
        {
            return rule.color.clone();
        }
        if let Some(own) = ask.account_color.filter(|c| color::is_valid(c)) {
            return own.to_owned();
        }
        let bucket = self.bucket(ask.account);
        let mut upto = 0u32;
        for rule in &self.percent {
            upto += u32::from(rule.percent);
            if bucket < upto {
                return rule.color.clone();
            }
        }
        if let Some(version) = parse_version(ask.client_version) {
            let matches = |r: &&VersionRule| {
                let (min, max) = (parse_version(&r.min), parse_version(&r.max));
                min.is_some_and(|m| m <= version) && max.is_some_and(|m| version <= m)
            };
            if let Some(rule) = self.version.iter().find(matches) {
                return rule.color.clone();
            }
        }
        if self.requestable.iter().any(|c| c == ask.requested) {
            return ask.requested.to_owned();
        }
        default.to_owned()
    }

    /// The account's stable bucket, 0 to 99.
    pub fn bucket(&self, account: AccountId) -> u32 {
        let digest = Sha256::new()
            .chain_update(self.salt.as_bytes())
            .chain_update(account.0.to_be_bytes())
            .finalize();
        let mut head = [0u8; 8];
        head.copy_from_slice(&digest[..8]);
        (u64::from_be_bytes(head) % 100) as u32
    }
}

#[cfg(test)]
#[path = "gray_tests.rs"]
mod tests;
