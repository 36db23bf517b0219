//! The Redis cache, through fred. Keys are `<prefix>{a:<account>}:...` for everything of an
//! account, so one account's keys share a cluster slot and a script may touch them together.
//! Commands fail fast (no queueing while disconnected) and time out, so that callers can fall
//! back to the store at once.

use std::collections::HashMap;
use std::time::Duration;

use async_trait::async_trait;
use fred::clients::Pool;
use fred::error::Error as FredError;
use fred::interfaces::{ClientLike, KeysInterface, StreamsInterface};
use fred::types::config::{Config, Options, ReconnectPolicy};
use fred::types::{Builder, ClusterHash, CustomCommand, Expiration, Value};

use self::takes::Takes;
use super::codec::{
    decode_account, decode_session, encode_account, encode_revocation, encode_session,
};
use super::{Cache, CacheError, CacheResult, Cas, LOOKUP_TTL_SECS, Nonce, Taken};
use crate::domain::clock::Millis;
use crate::domain::ids::{AccountId, SessionId};
use crate::domain::session::{Revocation, RevokeReason, Revoked, Session};
use crate::store::Account;

mod takes;

/// Writes a family unless the same or a newer generation is cached; keeps a revocation either
/// way; indexes the family under its account. KEYS: family, index. ARGV: generation, body,
/// revocation ('' for none), absolute expiry (unix ms), family id, now (unix ms), sliding
/// expiry, sign-in epoch; optionally a token nonce key ('' for none) and its lifetime (ms), set
/// only when the family is written (the nonce key shares the account's hash tag).
const PUT_SESSION: &str = r#"
local held = redis.call('HGET', KEYS[1], 'gen')
if held and tonumber(held) >= tonumber(ARGV[1]) then
  if ARGV[3] ~= '' and redis.call('HEXISTS', KEYS[1], 'rev') == 0 then
    redis.call('HSET', KEYS[1], 'rev', ARGV[3])
  end
  return 0
end
local rev = redis.call('HGET', KEYS[1], 'rev')
redis.call('HSET', KEYS[1], 'gen', ARGV[1], 'data', ARGV[2], 'exp', ARGV[7], 'ep', ARGV[8])
if not rev and ARGV[3] ~= '' then redis.call('HSET', KEYS[1], 'rev', ARGV[3]) end
redis.call('PEXPIREAT', KEYS[1], ARGV[4])
redis.call('SADD', KEYS[2], ARGV[5])
local ttl = redis.call('PTTL', KEYS[2])
if ttl < 0 or tonumber(ARGV[6]) + ttl < tonumber(ARGV[4]) then
  redis.call('PEXPIREAT', KEYS[2], ARGV[4])
end
if ARGV[9] and ARGV[9] ~= '' then
  redis.call('SET', ARGV[9], ARGV[5], 'PX', ARGV[10])
end
return 1
"#;

/// Compare-and-set on the generation. KEYS: family. ARGV: expected generation, new generation,
/// body, revocation ('' for none), absolute expiry, sliding expiry; optionally a token nonce
/// key, the family id and the nonce's lifetime (ms), set only when swapped. Answers 1 swapped, 0
/// conflict, -1 missing. A cached
/// generation below the expected one is stale (the store moved on while the cache was away)
/// and is replaced too; only a newer one, or a revocation, is a conflict.
const UPDATE_SESSION: &str = r#"
local held = redis.call('HGET', KEYS[1], 'gen')
if not held then return -1 end
if tonumber(held) > tonumber(ARGV[1]) or redis.call('HEXISTS', KEYS[1], 'rev') == 1 then
  return 0
end
redis.call('HSET', KEYS[1], 'gen', ARGV[2], 'data', ARGV[3], 'exp', ARGV[6])
if ARGV[4] ~= '' then redis.call('HSET', KEYS[1], 'rev', ARGV[4]) end
redis.call('PEXPIREAT', KEYS[1], ARGV[5])
if ARGV[7] and ARGV[7] ~= '' then
  redis.call('SET', ARGV[7], ARGV[8], 'PX', ARGV[9])
end
return 1
"#;

/// Consumes a token nonce and reads the family it names and the account, in one round trip.
/// KEYS: nonce, account summary. ARGV: key prefix of the account's families.
const TAKE_NONCE: &str = r#"
local sid = redis.call('GET', KEYS[1])
if not sid then return false end
redis.call('DEL', KEYS[1])
local f = redis.call('HMGET', ARGV[1] .. sid, 'gen', 'data', 'rev')
local a = redis.call('GET', KEYS[2])
return {sid, f[1] or false, f[2] or false, f[3] or false, a or false}
"#;

/// KEYS: the account's epoch counter. ARGV: now (unix ms). Answers an epoch above every
/// earlier one and at least now, so that it also rises after Redis restarted empty.
const NEXT_EPOCH: &str = r#"
local epoch = redis.call('INCR', KEYS[1])
if epoch < tonumber(ARGV[1]) then
  redis.call('SET', KEYS[1], ARGV[1])
  epoch = tonumber(ARGV[1])
end
return epoch
"#;

/// Revokes the account's families with an epoch below ARGV[3]. KEYS: index. ARGV: revocation,
/// key prefix of the account's families, epoch.
const REVOKE_OLDER: &str = r#"
local revoked = {}
for _, id in ipairs(redis.call('SMEMBERS', KEYS[1])) do
  local key = ARGV[2] .. id
  if redis.call('HEXISTS', key, 'rev') == 0 and redis.call('EXISTS', key) == 1
     and tonumber(redis.call('HGET', key, 'ep') or '0') < tonumber(ARGV[3]) then
    redis.call('HSET', key, 'rev', ARGV[1])
    table.insert(revoked, id)
  end
end
return revoked
"#;

/// The account's live families other than ARGV[3]. KEYS: index. ARGV: key prefix of the
/// account's families, now (unix ms), the family to leave out.
const OTHER_LIVE: &str = r#"
local live = {}
for _, id in ipairs(redis.call('SMEMBERS', KEYS[1])) do
  local key = ARGV[1] .. id
  if id ~= ARGV[3] and redis.call('EXISTS', key) == 1 and redis.call('HEXISTS', key, 'rev') == 0
     and tonumber(redis.call('HGET', key, 'exp') or '0') > tonumber(ARGV[2]) then
    table.insert(live, id)
  end
end
return live
"#;

/// KEYS: family. ARGV: revocation.
const REVOKE_SESSION: &str = r#"
if redis.call('EXISTS', KEYS[1]) == 1 and redis.call('HEXISTS', KEYS[1], 'rev') == 0 then
  redis.call('HSET', KEYS[1], 'rev', ARGV[1])
  return 1
end
return 0
"#;

/// Revokes every indexed family of an account (same hash tag, same slot). KEYS: index.
/// ARGV: revocation, key prefix of the account's families. Answers the ids revoked.
const REVOKE_ACCOUNT: &str = r#"
local revoked = {}
for _, id in ipairs(redis.call('SMEMBERS', KEYS[1])) do
  local key = ARGV[2] .. id
  if redis.call('EXISTS', key) == 1 then
    if redis.call('HEXISTS', key, 'rev') == 0 then
      redis.call('HSET', key, 'rev', ARGV[1])
      table.insert(revoked, id)
    end
  else
    redis.call('SREM', KEYS[1], id)
  end
end
return revoked
"#;

/// A script and its SHA-1, computed once.
struct Script {
    lua: &'static str,
    sha: String,
}

impl Script {
    fn new(lua: &'static str) -> Self {
        Script {
            lua,
            sha: fred::util::sha1_hash(lua),
        }
    }
}

struct Scripts {
    put: Script,
    update: Script,
    revoke: Script,
    revoke_account: Script,
    next_epoch: Script,
    revoke_older: Script,
    other_live: Script,
    take_nonce: Script,
}

pub struct RedisCache {
    pool: Pool,
    /// Batched nonce takes; none on a cluster.
    takes: Option<Takes>,
    prefix: String,
    /// Events kept in the revocation stream.
    retain: usize,
    options: Options,
    scripts: Scripts,
}

fn failed(err: FredError) -> CacheError {
    CacheError(err.to_string())
}

impl RedisCache {
    /// Connects (`redis://`, `rediss://` or `redis-cluster://`). A Redis that cannot be reached
    /// at start is not fatal: the pool keeps reconnecting in the background, and callers fall
    /// back to the store meanwhile. Fails only on a malformed URL.
    pub async fn connect(
        url: &str,
        prefix: &str,
        size: usize,
        timeout: Duration,
        retain: usize,
    ) -> anyhow::Result<Self> {
        let mut config = Config::from_url(url)?;
        config.fail_fast = false;
        let clustered = config.server.is_clustered();
        let pool = Builder::from_config(config)
            .with_connection_config(|c| {
                c.connection_timeout = Duration::from_secs(2);
                c.max_command_attempts = 1;
            })
            .with_performance_config(|p| p.default_command_timeout = timeout)
            .set_policy(ReconnectPolicy::new_exponential(0, 100, 2_000, 2))
            .build_pool(size)?;
        let _task = pool.connect();
        if tokio::time::timeout(Duration::from_secs(2), pool.wait_for_connect())
            .await
            .is_err()
        {
            tracing::warn!("Redis is not reachable at start; sessions use the store until it is");
        }
        let options = Options {
            timeout: Some(timeout),
            fail_fast: true,
            max_attempts: Some(1),
            ..Default::default()
        };
        // Keys of different accounts live in different cluster slots, so a cluster takes
        // nonces one by one.
        let takes = (!clustered).then(|| Takes::start(pool.clone(), options.clone(), size));
        let scripts = Scripts {
            put: Script::new(PUT_SESSION),
            update: Script::new(UPDATE_SESSION),
            revoke: Script::new(REVOKE_SESSION),
            revoke_account: Script::new(REVOKE_ACCOUNT),
            next_epoch: Script::new(NEXT_EPOCH),
            revoke_older: Script::new(REVOKE_OLDER),
            other_live: Script::new(OTHER_LIVE),
            take_nonce: Script::new(TAKE_NONCE),
        };
        Ok(RedisCache {
            pool,
            takes,
            retain,
            prefix: prefix.to_owned(),
            options,
            scripts,
        })
    }

    fn client(&self) -> fred::clients::WithOptions<fred::clients::Client> {
        self.pool.next().with_options(&self.options)
    }

    fn account_tag(&self, account: AccountId) -> String {
        format!("{}{{a:{}}}", self.prefix, account.0)
    }

    fn session_key(&self, account: AccountId, id: &SessionId) -> String {
        format!("{}:s:{}", self.account_tag(account), id)
    }

    fn index_key(&self, account: AccountId) -> String {
        format!("{}:ss", self.account_tag(account))
    }

    fn identity_key(&self, provider: &str, subject: &str) -> String {
        format!("{}i:{provider}:{subject}", self.prefix)
    }

    fn nonce_key(&self, account: AccountId, nonce: &str) -> String {
        format!("{}:n:{nonce}", self.account_tag(account))
    }

    fn epoch_key(&self, account: AccountId) -> String {
        format!("{}:ep", self.account_tag(account))
    }

    fn stream_key(&self) -> String {
        format!("{}revocations", self.prefix)
    }

    fn notices_key(&self) -> String {
        format!("{}notices:version", self.prefix)
    }

    fn account_key(&self, account: AccountId) -> String {
        format!("{}:acct", self.account_tag(account))
    }

    /// Runs `PUT_SESSION`, with a nonce to register when the family is written.
    async fn put(&self, s: &Session, now: Millis, nonce: Option<Nonce<'_>>) -> CacheResult<bool> {
        let keys = vec![
            self.session_key(s.account, &s.id),
            self.index_key(s.account),
        ];
        let mut args = vec![
            Value::from(s.generation),
            Value::Bytes(encode_session(s).into()),
            revocation_arg(s.revoked),
            Value::from(s.absolute_ms),
            Value::from(s.id.as_str()),
            Value::from(now),
            Value::from(s.expires_ms),
            Value::from(s.epoch),
        ];
        if let Some(nonce) = nonce {
            args.push(Value::from(self.nonce_key(s.account, nonce.value)));
            args.push(Value::from((nonce.expires_ms - now).max(1)));
        }
        let written: i64 = self.script(&self.scripts.put, keys, args).await?;
        Ok(written == 1)
    }

    /// Runs `UPDATE_SESSION`, with a nonce to register when the family is swapped.
    async fn update(
        &self,
        s: &Session,
        expected: i64,
        nonce: Option<Nonce<'_>>,
        now: Millis,
    ) -> CacheResult<Cas> {
        let keys = vec![self.session_key(s.account, &s.id)];
        let mut args = vec![
            Value::from(expected),
            Value::from(s.generation),
            Value::Bytes(encode_session(s).into()),
            revocation_arg(s.revoked),
            Value::from(s.absolute_ms),
            Value::from(s.expires_ms),
        ];
        if let Some(nonce) = nonce {
            args.push(Value::from(self.nonce_key(s.account, nonce.value)));
            args.push(Value::from(s.id.as_str()));
            args.push(Value::from((nonce.expires_ms - now).max(1)));
        }
        let answer: i64 = self.script(&self.scripts.update, keys, args).await?;
        Ok(match answer {
            1 => Cas::Swapped,
            0 => Cas::Conflict,
            _ => Cas::Missing,
        })
    }

    /// Runs a script by hash, loading it on first use.
    async fn script<R: fred::types::FromValue>(
        &self,
        script: &Script,
        keys: Vec<String>,
        args: Vec<Value>,
    ) -> CacheResult<R> {
        eval(&self.client(), script, keys, args).await
    }
}

/// Runs a script by hash on `client`, loading it on first use. It goes as a plain command, so
/// that the client's options (timeout, fail fast) apply and concurrent calls share the
/// connection (fred's own `EVALSHA` waits for each answer before sending the next command). A
/// call that finds the script missing loads it and runs again, so pipelining cannot lose one.
async fn eval<R, C>(
    client: &C,
    script: &Script,
    keys: Vec<String>,
    args: Vec<Value>,
) -> CacheResult<R>
where
    R: fred::types::FromValue,
    C: ClientLike + Send + Sync,
{
    let slot = keys
        .first()
        .map(|key| ClusterHash::Custom(fred::util::redis_keyslot(key.as_bytes())))
        .unwrap_or(ClusterHash::Random);
    let command = CustomCommand::new_static("EVALSHA", slot.clone(), false);
    let mut line: Vec<Value> = Vec::with_capacity(2 + keys.len() + args.len());
    line.push(Value::from(script.sha.as_str()));
    line.push(Value::from(keys.len() as i64));
    line.extend(keys.into_iter().map(Value::from));
    line.extend(args);
    match client
        .custom::<R, Value>(command.clone(), line.clone())
        .await
    {
        Err(err) if err.details().starts_with("NOSCRIPT") => {
            // Loaded on the node that runs it (the key's, on a cluster).
            let load = CustomCommand::new_static("SCRIPT", slot, false);
            let args = vec![Value::from("LOAD"), Value::from(script.lua)];
            client
                .custom::<String, Value>(load, args)
                .await
                .map_err(failed)?;
            client.custom(command, line).await.map_err(failed)
        }
        other => other.map_err(failed),
    }
}

fn failed_text(what: &str) -> CacheError {
    CacheError(what.to_owned())
}

fn decode_revoked(fields: &HashMap<String, String>) -> Option<Revoked> {
    Some(Revoked {
        account: AccountId(fields.get("a")?.parse().ok()?),
        session: SessionId::parse(fields.get("s")?)?,
        reason: RevokeReason::parse(fields.get("r")?)?,
        at_ms: fields.get("t")?.parse().ok()?,
    })
}

fn revocation_arg(r: Option<Revocation>) -> Value {
    r.map(|r| Value::from(encode_revocation(&r)))
        .unwrap_or_else(|| Value::from(""))
}

#[async_trait]
impl Cache for RedisCache {
    async fn close(&self) {
        let _ = self.pool.quit().await;
    }

    async fn register_nonce(
        &self,
        account: AccountId,
        nonce: &str,
        session: &SessionId,
        expires_ms: Millis,
        now: Millis,
    ) -> CacheResult<()> {
        let ttl = Some(Expiration::PX((expires_ms - now).max(1)));
        let key = self.nonce_key(account, nonce);
        self.client()
            .set::<(), _, _>(key, session.as_str(), ttl, None, false)
            .await
            .map_err(failed)
    }

    async fn consume_nonce(
        &self,
        account: AccountId,
        nonce: &str,
    ) -> CacheResult<Option<SessionId>> {
        let taken: Option<String> = self
            .client()
            .getdel(self.nonce_key(account, nonce))
            .await
            .map_err(failed)?;
        Ok(taken.and_then(|id| SessionId::parse(&id)))
    }

    async fn next_epoch(&self, account: AccountId, now: Millis) -> CacheResult<i64> {
        let keys = vec![self.epoch_key(account)];
        self.script(&self.scripts.next_epoch, keys, vec![Value::from(now)])
            .await
    }

    async fn current_epoch(&self, account: AccountId) -> CacheResult<i64> {
        let epoch: Option<i64> = self
            .client()
            .get(self.epoch_key(account))
            .await
            .map_err(failed)?;
        Ok(epoch.unwrap_or(0))
    }

    async fn revoke_older(
        &self,
        account: AccountId,
        epoch: i64,
        revocation: Revocation,
    ) -> CacheResult<Vec<SessionId>> {
        let keys = vec![self.index_key(account)];
        let prefix = format!("{}:s:", self.account_tag(account));
        let args = vec![
            revocation_arg(Some(revocation)),
            Value::from(prefix),
            Value::from(epoch),
        ];
        let ids: Vec<String> = self.script(&self.scripts.revoke_older, keys, args).await?;
        Ok(ids.iter().filter_map(|id| SessionId::parse(id)).collect())
    }

    async fn other_live(
        &self,
        account: AccountId,
        except: &SessionId,
        now: Millis,
    ) -> CacheResult<Vec<SessionId>> {
        let keys = vec![self.index_key(account)];
        let prefix = format!("{}:s:", self.account_tag(account));
        let args = vec![
            Value::from(prefix),
            Value::from(now),
            Value::from(except.as_str()),
        ];
        let ids: Vec<String> = self.script(&self.scripts.other_live, keys, args).await?;
        Ok(ids.iter().filter_map(|id| SessionId::parse(id)).collect())
    }

    async fn append_revocations(&self, events: &[Revoked]) -> CacheResult<Vec<String>> {
        let mut sequences = Vec::with_capacity(events.len());
        for e in events {
            let fields = vec![
                ("a", e.account.0.to_string()),
                ("s", e.session.as_str().to_owned()),
                ("r", e.reason.as_str().to_owned()),
                ("t", e.at_ms.to_string()),
            ];
            let cap = ("MAXLEN", "~", self.retain as i64);
            let id: String = self
                .client()
                .xadd(self.stream_key(), false, cap, "*", fields)
                .await
                .map_err(failed)?;
            sequences.push(id);
        }
        Ok(sequences)
    }

    async fn revocations_after(
        &self,
        after: &str,
        count: usize,
    ) -> CacheResult<Vec<(String, Revoked)>> {
        let start = if after.is_empty() {
            "-".to_owned()
        } else {
            format!("({after}")
        };
        let entries: Vec<(String, HashMap<String, String>)> = self
            .client()
            .xrange_values(self.stream_key(), start, "+", Some(count as u64))
            .await
            .map_err(failed)?;
        Ok(entries
            .into_iter()
            .filter_map(|(id, f)| decode_revoked(&f).map(|e| (id, e)))
            .collect())
    }

    async fn revocation_bounds(&self) -> CacheResult<Option<(String, String)>> {
        let first: Vec<(String, HashMap<String, String>)> = self
            .client()
            .xrange_values(self.stream_key(), "-", "+", Some(1))
            .await
            .map_err(failed)?;
        let last: Vec<(String, HashMap<String, String>)> = self
            .client()
            .xrevrange_values(self.stream_key(), "+", "-", Some(1))
            .await
            .map_err(failed)?;
        Ok(first
            .into_iter()
            .next()
            .map(|f| f.0)
            .zip(last.into_iter().next().map(|l| l.0)))
    }

    fn shared(&self) -> bool {
        true
    }

    async fn notices_version(&self) -> CacheResult<i64> {
        let version: Option<i64> = self
            .client()
            .get(self.notices_key())
            .await
            .map_err(failed)?;
        Ok(version.unwrap_or(0))
    }

    async fn bump_notices(&self) -> CacheResult<()> {
        self.client()
            .incr::<i64, _>(self.notices_key())
            .await
            .map_err(failed)?;
        Ok(())
    }

    async fn ping(&self) -> CacheResult<()> {
        self.client().ping::<()>(None).await.map_err(failed)
    }

    async fn session(&self, account: AccountId, id: &SessionId) -> CacheResult<Option<Session>> {
        use fred::interfaces::HashesInterface;
        let key = self.session_key(account, id);
        let (generation, body, revoked): (Option<i64>, Option<Vec<u8>>, Option<String>) = self
            .client()
            .hmget(key, vec!["gen", "data", "rev"])
            .await
            .map_err(failed)?;
        let (Some(generation), Some(body)) = (generation, body) else {
            return Ok(None);
        };
        let session = decode_session(id, generation, &body, revoked.as_deref());
        session
            .map(Some)
            .ok_or_else(|| CacheError(format!("family {id} does not decode")))
    }

    async fn put_session(&self, s: &Session, now: Millis) -> CacheResult<bool> {
        self.put(s, now, None).await
    }

    async fn put_session_with_nonce(
        &self,
        s: &Session,
        now: Millis,
        nonce: Nonce<'_>,
    ) -> CacheResult<bool> {
        self.put(s, now, Some(nonce)).await
    }

    async fn update_session(&self, s: &Session, expected: i64) -> CacheResult<Cas> {
        self.update(s, expected, None, 0).await
    }

    async fn update_session_with_nonce(
        &self,
        s: &Session,
        expected: i64,
        nonce: Nonce<'_>,
        now: Millis,
    ) -> CacheResult<Cas> {
        self.update(s, expected, Some(nonce), now).await
    }

    async fn take_nonce(&self, account: AccountId, nonce: &str) -> CacheResult<Option<Taken>> {
        let nonce_key = self.nonce_key(account, nonce);
        let account_key = self.account_key(account);
        let families = format!("{}:s:", self.account_tag(account));
        if let Some(takes) = &self.takes
            && let Some(answer) = takes
                .take(nonce_key.clone(), account_key.clone(), families.clone())
                .await
        {
            return Ok(parse_taken(answer?));
        }
        let keys = vec![nonce_key, account_key];
        let reply: Value = self
            .script(&self.scripts.take_nonce, keys, vec![Value::from(families)])
            .await?;
        Ok(parse_taken(reply))
    }

    async fn revoke_session(
        &self,
        account: AccountId,
        id: &SessionId,
        revocation: Revocation,
    ) -> CacheResult<()> {
        let keys = vec![self.session_key(account, id)];
        let _: i64 = self
            .script(
                &self.scripts.revoke,
                keys,
                vec![revocation_arg(Some(revocation))],
            )
            .await?;
        Ok(())
    }

    async fn session_ids(&self, account: AccountId) -> CacheResult<Vec<SessionId>> {
        use fred::interfaces::SetsInterface;
        let ids: Vec<String> = self
            .client()
            .smembers(self.index_key(account))
            .await
            .map_err(failed)?;
        Ok(ids.iter().filter_map(|id| SessionId::parse(id)).collect())
    }

    async fn revoke_account(
        &self,
        account: AccountId,
        revocation: Revocation,
    ) -> CacheResult<Vec<SessionId>> {
        let keys = vec![self.index_key(account)];
        let prefix = format!("{}:s:", self.account_tag(account));
        let args = vec![revocation_arg(Some(revocation)), Value::from(prefix)];
        let ids: Vec<String> = self
            .script(&self.scripts.revoke_account, keys, args)
            .await?;
        Ok(ids.iter().filter_map(|id| SessionId::parse(id)).collect())
    }

    async fn identity(&self, provider: &str, subject: &str) -> CacheResult<Option<AccountId>> {
        let id: Option<i64> = self
            .client()
            .get(self.identity_key(provider, subject))
            .await
            .map_err(failed)?;
        Ok(id.map(AccountId))
    }

    async fn put_identity(
        &self,
        provider: &str,
        subject: &str,
        account: AccountId,
    ) -> CacheResult<()> {
        let key = self.identity_key(provider, subject);
        let ttl = Some(Expiration::EX(LOOKUP_TTL_SECS));
        self.client()
            .set::<(), _, _>(key, account.0, ttl, None, false)
            .await
            .map_err(failed)
    }

    async fn forget_identity(&self, provider: &str, subject: &str) -> CacheResult<()> {
        self.client()
            .del::<(), _>(self.identity_key(provider, subject))
            .await
            .map_err(failed)
    }

    async fn account(&self, id: AccountId) -> CacheResult<Option<Account>> {
        let bytes: Option<Vec<u8>> = self
            .client()
            .get(self.account_key(id))
            .await
            .map_err(failed)?;
        Ok(bytes.and_then(|b| decode_account(&b)))
    }

    async fn put_account(&self, account: &Account) -> CacheResult<()> {
        let key = self.account_key(account.id);
        let ttl = Some(Expiration::EX(LOOKUP_TTL_SECS));
        self.client()
            .set::<(), _, _>(
                key,
                Value::Bytes(encode_account(account).into()),
                ttl,
                None,
                false,
            )
            .await
            .map_err(failed)
    }

    async fn forget_account(&self, id: AccountId) -> CacheResult<()> {
        self.client()
            .del::<(), _>(self.account_key(id))
            .await
            .map_err(failed)
    }
}

/// What `TAKE_NONCE` answers: nothing when the nonce was not there, else the family id,
/// generation, body, revocation and the account summary.
fn parse_taken(reply: Value) -> Option<Taken> {
    let Value::Array(parts) = reply else {
        return None;
    };
    let text = |v: &Value| {
        v.as_bytes()
            .map(|b| String::from_utf8_lossy(b).into_owned())
    };
    let session = parts
        .first()
        .and_then(text)
        .and_then(|id| SessionId::parse(&id))?;
    let generation = parts
        .get(1)
        .and_then(text)
        .and_then(|g| g.parse::<i64>().ok());
    let body = parts.get(2).and_then(|v| v.as_bytes().map(<[u8]>::to_vec));
    let revoked = parts.get(3).and_then(text);
    let family = match (generation, body) {
        (Some(generation), Some(body)) => {
            decode_session(&session, generation, &body, revoked.as_deref())
        }
        _ => None,
    };
    let account = parts
        .get(4)
        .and_then(|v| v.as_bytes())
        .and_then(decode_account);
    Some(Taken {
        session,
        family,
        account,
    })
}
