//! Turning the `secrets` section into key bytes, with the rules each key must meet.

use super::{ConfigError, Profile, Secrets, decode_key, invalid};

/// The decoded keys.
#[derive(Clone)]
pub struct Keys {
    pub token: Vec<u8>,
    /// Earlier token keys, still accepted.
    pub token_previous: Vec<Vec<u8>>,
    pub session: Vec<u8>,
    pub platform: Vec<u8>,
    /// ES256 private keys (PEM) for access tokens, the signing one first.
    pub access: Vec<String>,
}

impl std::fmt::Debug for Keys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Keys { <redacted> }")
    }
}

/// Sample values that appear in the documentation; refused in `prod`.
const KNOWN_SAMPLES: &[&str] = &[
    "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=",
    "c2Vzc2lvbi1rZXktZm9yLWRldmVsb3BtZW50LW9ubHktMDAwMA==",
    "cGxhdGZvcm0ta2V5LWRldi0wMDAwMDAwMDAwMDAwMDA=",
];

impl Keys {
    /// Decodes each key. A missing key is generated in `dev` and `test` (returned as a warning)
    /// and refused in `prod`, as is a documented sample.
    pub fn resolve(s: &Secrets, profile: Profile) -> Result<(Keys, Vec<String>), ConfigError> {
        let mut warnings = Vec::new();
        let mut one = |key: &'static str, text: &str, sizes: &[usize]| {
            resolve_one(key, text, sizes, profile, &mut warnings)
        };
        let token = one("secrets.token_key", &s.token_key, &[16, 24, 32])?;
        let session = one("secrets.session_key", &s.session_key, &[])?;
        let platform = one("secrets.platform_key", &s.platform_key, &[16, 24, 32])?;
        let token_previous = s.token_keys_previous.iter().map(|text| {
            let bytes = decode_key("secrets.token_keys_previous", text)?;
            match bytes.len() {
                16 | 24 | 32 => Ok(bytes),
                n => Err(invalid(
                    "secrets.token_keys_previous",
                    format!("a key decodes to {n} bytes; 16, 24 or 32 are required"),
                )),
            }
        });
        let token_previous = token_previous.collect::<Result<_, _>>()?;
        let access = match s.access_keys.is_empty() {
            false => s.access_keys.clone(),
            true if profile == Profile::Prod => {
                return Err(invalid(
                    "secrets.access_keys",
                    "is required in the prod profile",
                ));
            }
            true => {
                warnings.push(
                    "secrets.access_keys is not set; a random key is used until this process exits"
                        .into(),
                );
                vec![
                    crate::domain::access::generate_key()
                        .map_err(|e| invalid("secrets.access_keys", e))?,
                ]
            }
        };
        let keys = Keys {
            token,
            token_previous,
            session,
            platform,
            access,
        };
        Ok((keys, warnings))
    }
}

/// `sizes` lists the exact lengths allowed; empty means "at least 32 bytes".
fn resolve_one(
    key: &'static str,
    text: &str,
    sizes: &[usize],
    profile: Profile,
    warnings: &mut Vec<String>,
) -> Result<Vec<u8>, ConfigError> {
    if text.trim().is_empty() {
        if profile == Profile::Prod {
            return Err(invalid(key, "is required in the prod profile"));
        }
        warnings.push(format!(
            "{key} is not set; a random key is used until this process exits"
        ));
        let len = sizes.last().copied().unwrap_or(32);
        return Ok((0..len).map(|_| rand::random::<u8>()).collect());
    }
    if profile == Profile::Prod && KNOWN_SAMPLES.contains(&text.trim()) {
        return Err(invalid(
            key,
            "is a published sample value; generate a key of your own",
        ));
    }
    let bytes = decode_key(key, text)?;
    let fits = if sizes.is_empty() {
        bytes.len() >= 32
    } else {
        sizes.contains(&bytes.len())
    };
    if !fits {
        let want = if sizes.is_empty() {
            "at least 32".to_owned()
        } else {
            "16, 24 or 32".to_owned()
        };
        return Err(invalid(
            key,
            format!("decodes to {} bytes; {want} are required", bytes.len()),
        ));
    }
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::KNOWN_SAMPLES;

    #[test]
    fn the_refused_samples_are_the_documented_ones() {
        let shipped = include_str!("../../configs/lares.toml");
        for sample in KNOWN_SAMPLES {
            assert!(
                shipped.contains(sample),
                "{sample} is not documented in configs/lares.toml"
            );
        }
    }
}
