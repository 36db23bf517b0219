//! Password hashing with Argon2id in PHC string form. These functions are CPU-bound by design
//! and must run on the hash pool, never on an actor or request thread.

use argon2::password_hash::phc::PasswordHash;
use argon2::password_hash::{PasswordHasher, PasswordVerifier};
use argon2::{Algorithm, Argon2, Params, Version};

/// Argon2id cost parameters. The defaults are the OWASP minimum: 19 MiB, 2 passes, 1 lane.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HashParams {
    pub memory_kib: u32,
    pub iterations: u32,
    pub parallelism: u32,
}

impl Default for HashParams {
    fn default() -> Self {
        HashParams {
            memory_kib: 19 * 1024,
            iterations: 2,
            parallelism: 1,
        }
    }
}

/// The outcome of checking a password against a stored hash.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verified {
    Match { needs_rehash: bool },
    Mismatch,
}

/// Hashes and verifies passwords with fixed parameters.
#[derive(Clone)]
pub struct PasswordHashing {
    params: Params,
    /// A hash of a random password, verified against when the user does not exist, so that an
    /// unknown user costs as much time as a wrong password.
    decoy: String,
}

impl PasswordHashing {
    pub fn new(p: HashParams) -> Result<Self, String> {
        let params = Params::new(p.memory_kib, p.iterations, p.parallelism, None)
            .map_err(|e| format!("invalid Argon2 parameters: {e}"))?;
        let mut hashing = PasswordHashing {
            params,
            decoy: String::new(),
        };
        let decoy_password = super::random::b64_token::<16>();
        hashing.decoy = hashing.hash(&decoy_password).map_err(|e| e.to_string())?;
        Ok(hashing)
    }

    fn argon2(&self) -> Argon2<'static> {
        Argon2::new(Algorithm::Argon2id, Version::V0x13, self.params.clone())
    }

    /// A PHC string for the password, with a fresh random salt.
    pub fn hash(&self, password: &str) -> Result<String, argon2::password_hash::Error> {
        Ok(self
            .argon2()
            .hash_password(password.as_bytes())?
            .to_string())
    }

    /// Verifies a password against a stored PHC string, or against the decoy when there is
    /// none. A stored hash that cannot be parsed counts as a mismatch.
    pub fn verify(&self, password: &str, stored: Option<&str>) -> Verified {
        let Some(stored) = stored else {
            let _ = self.verify_phc(password, &self.decoy);
            return Verified::Mismatch;
        };
        match self.verify_phc(password, stored) {
            Some(hash) => Verified::Match {
                needs_rehash: self.is_weaker(&hash),
            },
            None => Verified::Mismatch,
        }
    }

    fn verify_phc(&self, password: &str, stored: &str) -> Option<PasswordHash> {
        let hash = PasswordHash::new(stored).ok()?;
        self.argon2()
            .verify_password(password.as_bytes(), &hash)
            .ok()?;
        Some(hash)
    }

    /// True when the stored hash was made with another algorithm or cheaper parameters.
    fn is_weaker(&self, hash: &PasswordHash) -> bool {
        if hash.algorithm.as_str() != "argon2id" {
            return true;
        }
        match Params::try_from(hash) {
            Ok(p) => {
                p.m_cost() < self.params.m_cost()
                    || p.t_cost() < self.params.t_cost()
                    || p.p_cost() < self.params.p_cost()
            }
            Err(_) => true,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CHEAP: HashParams = HashParams {
        memory_kib: 64,
        iterations: 1,
        parallelism: 1,
    };

    #[test]
    fn hashes_verify_and_are_salted() {
        let hashing = PasswordHashing::new(CHEAP).unwrap();
        let a = hashing.hash("correct horse").unwrap();
        let b = hashing.hash("correct horse").unwrap();
        assert!(a.starts_with("$argon2id$v=19$m=64,t=1,p=1$"));
        assert_ne!(a, b);
        assert_eq!(
            hashing.verify("correct horse", Some(&a)),
            Verified::Match {
                needs_rehash: false
            }
        );
        assert_eq!(hashing.verify("wrong horse", Some(&a)), Verified::Mismatch);
        assert_eq!(
            hashing.verify("correct horse", Some("not a phc string")),
            Verified::Mismatch
        );
        assert_eq!(hashing.verify("anything", None), Verified::Mismatch);
    }

    #[test]
    fn weaker_stored_hashes_ask_for_a_rehash() {
        let weak = PasswordHashing::new(CHEAP).unwrap();
        let strong = PasswordHashing::new(HashParams {
            memory_kib: 128,
            ..CHEAP
        })
        .unwrap();
        let stored = weak.hash("correct horse").unwrap();
        assert_eq!(
            strong.verify("correct horse", Some(&stored)),
            Verified::Match { needs_rehash: true }
        );
        let stored = strong.hash("correct horse").unwrap();
        assert_eq!(
            weak.verify("correct horse", Some(&stored)),
            Verified::Match {
                needs_rehash: false
            }
        );
    }

    #[test]
    fn invalid_parameters_are_refused() {
        assert!(
            PasswordHashing::new(HashParams {
                memory_kib: 1,
                ..CHEAP
            })
            .is_err()
        );
    }
}
