//! A minimal gateway integration, as documentation: it validates the handshake tokens given on
//! standard input, one per line, over one `ValidateStream`, and follows the revocation stream
//! (resuming after a disconnect from the last sequence it saw) until interrupted.
//!
//! ```sh
//! cargo run --example gateway -- http://127.0.0.1:9101 < tokens.txt
//! ```

use std::time::Duration;

use lares::proto::validator::token_validator_client::TokenValidatorClient;
use lares::proto::validator::{Reason, ValidateRequest, WatchRevocationsRequest};
use tokio::io::{AsyncBufReadExt, BufReader};
use tonic::transport::Channel;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let url = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "http://127.0.0.1:9101".into());
    let channel = Channel::from_shared(url)?
        .connect_timeout(Duration::from_secs(5))
        .connect()
        .await?;
    let client = TokenValidatorClient::new(channel);
    tokio::spawn(follow_revocations(client.clone()));
    validate_stdin(client).await?;
    // Keep following revocations until interrupted.
    tokio::signal::ctrl_c().await?;
    Ok(())
}

/// Drops the connections of revoked sessions (here: prints them). On a broken stream it
/// reconnects behind the last sequence seen; when that is too old (OUT_OF_RANGE) a real gateway
/// would re-validate or drop all its connections, since it may have missed revocations.
async fn follow_revocations(mut client: TokenValidatorClient<Channel>) {
    let mut after = String::new();
    loop {
        let request = WatchRevocationsRequest {
            after: after.clone(),
        };
        match client.watch_revocations(request).await {
            Ok(stream) => {
                let mut stream = stream.into_inner();
                while let Ok(Some(revoked)) = stream.message().await {
                    println!(
                        "revoked: account {} session {} ({})",
                        revoked.account_id, revoked.session_id, revoked.reason
                    );
                    after = revoked.sequence;
                }
            }
            Err(status) if status.code() == tonic::Code::OutOfRange => {
                eprintln!("missed revocations beyond the retained window; resynchronising");
                after.clear();
            }
            Err(status) => eprintln!("revocation stream: {status}"),
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

/// Sends every line of standard input as a validation on one stream and prints the answers.
async fn validate_stdin(
    mut client: TokenValidatorClient<Channel>,
) -> Result<(), Box<dyn std::error::Error>> {
    let (tx, rx) = tokio::sync::mpsc::channel(256);
    let mut answers = client
        .validate_stream(tokio_stream::wrappers::ReceiverStream::new(rx))
        .await?
        .into_inner();
    tokio::spawn(async move {
        let mut lines = BufReader::new(tokio::io::stdin()).lines();
        let mut id = 0;
        while let Ok(Some(token)) = lines.next_line().await {
            id += 1;
            if tx
                .send(ValidateRequest {
                    id,
                    token: token.trim().to_owned(),
                })
                .await
                .is_err()
            {
                break;
            }
        }
    });
    while let Some(answer) = answers.message().await? {
        if answer.valid {
            println!(
                "#{}: account {} colour {} zone {} session {}",
                answer.id, answer.account_id, answer.color, answer.zone, answer.session_id
            );
        } else {
            println!(
                "#{}: refused ({:?})",
                answer.id,
                Reason::try_from(answer.reason).unwrap_or_default()
            );
        }
    }
    Ok(())
}
