//! Nonce takes in batches. Every validation consumes a nonce, so at gateway rates the cost of a
//! Redis round trip per token (a command through the client, a script call in Redis) is most of
//! the work. Takes are queued (bounded) and run together: while batches are with Redis the
//! next one gathers, so under load one script call consumes many nonces, and a lone take still
//! goes at once. Each take is as atomic as before: the script runs its takes one after another
//! in a single call, and a nonce presented twice in one batch is taken once.

use std::sync::Arc;

use fred::clients::Pool;
use fred::interfaces::ClientLike;
use fred::types::Value;
use fred::types::config::Options;
use tokio::sync::{Semaphore, mpsc, oneshot};

use super::{Script, eval, failed_text};
use crate::store::cache::CacheResult;

/// Takes `#ARGV` nonces. KEYS: for each take, its nonce and its account summary. ARGV: for each
/// take, the key prefix of its account's families. Answers, per take, `false` when the nonce is
/// not there, else the family id, generation, body, revocation and the account summary.
pub(super) const TAKE_NONCES: &str = r#"
local out = {}
for i = 1, #ARGV do
  local sid = redis.call('GET', KEYS[2 * i - 1])
  if sid then
    redis.call('DEL', KEYS[2 * i - 1])
    local f = redis.call('HMGET', ARGV[i] .. sid, 'gen', 'data', 'rev')
    local a = redis.call('GET', KEYS[2 * i])
    out[i] = {sid, f[1] or false, f[2] or false, f[3] or false, a or false}
  else
    out[i] = false
  end
end
return out
"#;

/// Takes gathered into one script call at most.
const BATCH: usize = 64;
/// Takes waiting for a batch at most; beyond it a take runs on its own.
const QUEUE: usize = 4096;

/// One nonce to take and where its answer goes.
pub(super) struct Take {
    pub nonce_key: String,
    pub account_key: String,
    pub families: String,
    reply: oneshot::Sender<CacheResult<Value>>,
}

/// Queues takes for the batching task. Cheap to clone.
#[derive(Clone)]
pub(super) struct Takes {
    tx: mpsc::Sender<Take>,
}

impl Takes {
    /// Starts the batching task on the current tokio runtime, with `in_flight` script calls at
    /// once. It ends when the last `Takes` is dropped.
    pub fn start(pool: Pool, options: Options, in_flight: usize) -> Takes {
        let (tx, rx) = mpsc::channel(QUEUE);
        let script = Arc::new(Script::new(TAKE_NONCES));
        tokio::spawn(gather(pool, options, script, rx, in_flight.max(1)));
        Takes { tx }
    }

    /// Takes one nonce; answers what the script answered for it. `None` when the queue is full,
    /// for the caller to take it on its own. Every script call has the command timeout, so the
    /// answer comes within it.
    pub async fn take(
        &self,
        nonce_key: String,
        account_key: String,
        families: String,
    ) -> Option<CacheResult<Value>> {
        let (reply, answer) = oneshot::channel();
        let take = Take {
            nonce_key,
            account_key,
            families,
            reply,
        };
        self.tx.try_send(take).ok()?;
        Some(
            answer
                .await
                .unwrap_or_else(|_| Err(failed_text("the nonce batch was dropped"))),
        )
    }
}

/// Gathers whatever is queued (up to `BATCH`) whenever a call slot is free.
async fn gather(
    pool: Pool,
    options: Options,
    script: Arc<Script>,
    mut rx: mpsc::Receiver<Take>,
    in_flight: usize,
) {
    let slots = Arc::new(Semaphore::new(in_flight));
    while let Some(first) = rx.recv().await {
        let Ok(slot) = slots.clone().acquire_owned().await else {
            return;
        };
        let mut takes = vec![first];
        while takes.len() < BATCH {
            match rx.try_recv() {
                Ok(take) => takes.push(take),
                Err(_) => break,
            }
        }
        let client = pool.next().with_options(&options);
        let script = script.clone();
        tokio::spawn(async move {
            run(client, &script, takes).await;
            drop(slot);
        });
    }
}

/// Runs one batch and answers its takes, in order.
async fn run<C>(client: C, script: &Script, takes: Vec<Take>)
where
    C: fred::interfaces::ClientLike + Send + Sync,
{
    let mut keys = Vec::with_capacity(takes.len() * 2);
    let mut args = Vec::with_capacity(takes.len());
    let mut replies = Vec::with_capacity(takes.len());
    for take in takes {
        keys.push(take.nonce_key);
        keys.push(take.account_key);
        args.push(Value::from(take.families));
        replies.push(take.reply);
    }
    match eval::<Value, _>(&client, script, keys, args).await {
        Ok(Value::Array(answers)) if answers.len() == replies.len() => {
            for (reply, answer) in replies.into_iter().zip(answers) {
                let _ = reply.send(Ok(answer));
            }
        }
        Ok(_) => {
            for reply in replies {
                let _ = reply.send(Err(failed_text("unexpected answer to a nonce batch")));
            }
        }
        Err(err) => {
            for reply in replies {
                let _ = reply.send(Err(err.clone()));
            }
        }
    }
}
