//! Fake identity providers for platform sign-in: Apple ("Sign in with Apple": JWKS and token
//! endpoint), Google (JWKS for OpenID id tokens) and Facebook (Graph API `debug_token` and `/me`),
//! all served by one HTTP server on loopback port 0 and signing with keys generated at start.
//!
//! They speak the real wire protocols and expose controls for bad-input tests: how a minted token
//! is signed, key rotation, misbehaving JWKS endpoints, one-time authorization codes and Facebook
//! tokens issued to other apps.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use actix_web::http::StatusCode;
use actix_web::http::header::{CACHE_CONTROL, CONTENT_TYPE};
use actix_web::{App, HttpResponse, HttpServer, web};
use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use hmac::{Hmac, Mac};
use josekit::jwk::KeyPair;
use josekit::jwk::alg::ec::EcKeyPair;
use josekit::jwk::alg::rsa::RsaKeyPair;
use josekit::jws::{ES256, HS256, JwsSigner, JwsVerifier, RS256};
use serde_json::{Value, json};
use sha2::Sha256;
use tokio::sync::oneshot;

/// The Apple developer team that owns the client.
pub const APPLE_TEAM_ID: &str = "TEAM123456";
/// The web Services ID: the `client_id` of the token endpoint and the audience of web id tokens.
pub const APPLE_CLIENT_ID: &str = "com.example.lares.web";
/// The native app's bundle id: the audience of id tokens minted on devices.
pub const APPLE_BUNDLE_ID: &str = "com.example.lares";
/// The id of the key that signs client secrets (the `kid` of their header).
pub const APPLE_KEY_ID: &str = "KEY1234567";
/// The redirect URI registered for the Services ID.
pub const APPLE_REDIRECT_URI: &str = "https://lares.example.com/accounts/v1/apple/login/callback";
/// The OAuth client id id tokens are issued to.
pub const GOOGLE_CLIENT_ID: &str = "1234567890-test.apps.googleusercontent.com";
/// The Facebook app Lares runs as.
pub const FACEBOOK_APP_ID: &str = "1122334455";
/// The secret of [`FACEBOOK_APP_ID`].
pub const FACEBOOK_APP_SECRET: &str = "fb-test-app-secret";

/// The `iss` of Apple id tokens and the `aud` of Apple client secrets.
const APPLE_ISSUER: &str = "https://appleid.apple.com";
/// The `iss` of Google id tokens.
const GOOGLE_ISSUER: &str = "https://accounts.google.com";
/// The `kid` of tokens signed with a key no JWKS publishes.
const UNKNOWN_KID: &str = "unknown-kid-1";
/// How long a JWKS endpoint in [`JwksMode::Hang`] waits before answering.
const HANG: Duration = Duration::from_secs(30);
/// The Graph API version in the Facebook paths.
const GRAPH_VERSION: &str = "v19.0";

/// A provider whose id tokens are JWTs verified against a JWKS.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Provider {
    Apple,
    Google,
}

impl Provider {
    fn name(self) -> &'static str {
        match self {
            Provider::Apple => "apple",
            Provider::Google => "google",
        }
    }
}

/// How a minted JWT is signed, for bad-input tests.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Signing {
    /// RS256 with the provider's current key; header `kid` is that key's id.
    Current,
    /// RS256 with a key that is not in the JWKS (header kid "unknown-kid-1").
    UnknownKey,
    /// RS256 with the current key, then one byte of the signature changed.
    Tampered,
    /// `alg: none`, header kid of the current key, empty signature (`header.payload.`).
    AlgNone,
    /// HS256 whose HMAC key is the current RSA public key's PEM bytes (key confusion), kid current.
    Hs256WithPublicKey,
}

/// What a JWKS endpoint does.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum JwksMode {
    /// Answers the published keys.
    Normal,
    /// Waits 30 seconds, then answers the published keys.
    Hang,
    /// Answers 200 with a body that is not JSON.
    Garbage,
    /// Answers 500.
    ServerError,
}

/// An RS256 signing key and its id.
struct RsaKey {
    kid: String,
    pair: RsaKeyPair,
}

impl RsaKey {
    fn generate(kid: String) -> RsaKey {
        let pair = RS256
            .generate_key_pair(2048)
            .expect("an RSA key pair is generated");
        RsaKey { kid, pair }
    }

    /// The public key as a JWK with `kid`, `alg` and `use` set.
    fn public_jwk(&self) -> Value {
        let mut jwk = self.pair.to_jwk_public_key();
        jwk.set_key_id(self.kid.clone());
        jwk.set_algorithm("RS256");
        jwk.set_key_use("sig");
        let map: serde_json::Map<String, Value> = jwk.into();
        Value::Object(map)
    }
}

/// One JWKS-publishing provider's keys and endpoint behaviour.
struct KeyState {
    current: RsaKey,
    generation: u32,
    fetches: usize,
    mode: JwksMode,
    max_age: Option<u64>,
}

impl KeyState {
    fn new(provider: Provider) -> KeyState {
        KeyState {
            current: RsaKey::generate(format!("{}-key-1", provider.name())),
            generation: 1,
            fetches: 0,
            mode: JwksMode::Normal,
            max_age: Some(3600),
        }
    }
}

/// An Apple authorization code and the id token claims its exchange answers.
struct AppleCode {
    claims: Value,
    used: bool,
}

/// A Facebook user access token as `debug_token` describes it.
struct FacebookToken {
    user_id: String,
    app_id: String,
    valid: bool,
    expires_at: i64,
    issued_at: i64,
}

/// Everything the endpoints and the test share.
struct State {
    apple: KeyState,
    google: KeyState,
    apple_codes: HashMap<String, AppleCode>,
    apple_exchanges: Vec<Value>,
    facebook_tokens: HashMap<String, FacebookToken>,
    facebook_bad_proofs: usize,
}

impl State {
    fn keys(&mut self, provider: Provider) -> &mut KeyState {
        match provider {
            Provider::Apple => &mut self.apple,
            Provider::Google => &mut self.google,
        }
    }
}

/// What the endpoints hold: the shared state and the public half of the client-secret key.
struct Shared {
    state: Mutex<State>,
    unknown_key: RsaKey,
    apple_secret_public_pem: Vec<u8>,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state
            .lock()
            .expect("fake issuer state is not poisoned")
    }
}

/// Apple, Google and Facebook on one loopback HTTP server; stopped when dropped.
pub struct FakeIssuers {
    addr: SocketAddr,
    shared: Arc<Shared>,
    apple_secret_key: EcKeyPair,
    stop: Option<oneshot::Sender<()>>,
}

impl FakeIssuers {
    /// Generates the keys and starts serving on 127.0.0.1 at a free port.
    pub async fn start() -> FakeIssuers {
        let apple_secret_key = ES256
            .generate_key_pair()
            .expect("an ES256 key pair is generated");
        let shared = Arc::new(Shared {
            state: Mutex::new(State {
                apple: KeyState::new(Provider::Apple),
                google: KeyState::new(Provider::Google),
                apple_codes: HashMap::new(),
                apple_exchanges: Vec::new(),
                facebook_tokens: HashMap::new(),
                facebook_bad_proofs: 0,
            }),
            unknown_key: RsaKey::generate(UNKNOWN_KID.to_owned()),
            apple_secret_public_pem: apple_secret_key.to_pem_public_key(),
        });

        let (ready_tx, ready_rx) = oneshot::channel();
        let (stop_tx, stop_rx) = oneshot::channel::<()>();
        let data = web::Data::from(shared.clone());
        std::thread::Builder::new()
            .name("fake-issuers".into())
            .spawn(move || serve(data, ready_tx, stop_rx))
            .expect("the fake issuer thread starts");
        let addr = ready_rx.await.expect("the fake issuers bind");
        FakeIssuers {
            addr,
            shared,
            apple_secret_key,
            stop: Some(stop_tx),
        }
    }

    /// `http://127.0.0.1:PORT`.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Apple's JWKS.
    pub fn apple_jwks_url(&self) -> String {
        format!("{}/apple/auth/keys", self.base_url())
    }

    /// Apple's token endpoint (authorization code exchange).
    pub fn apple_token_url(&self) -> String {
        format!("{}/apple/auth/token", self.base_url())
    }

    /// Google's JWKS.
    pub fn google_jwks_url(&self) -> String {
        format!("{}/google/oauth2/v3/certs", self.base_url())
    }

    /// The Graph API root, without a trailing slash.
    pub fn facebook_graph_url(&self) -> String {
        format!("{}/facebook/{GRAPH_VERSION}", self.base_url())
    }

    /// The ES256 private key (PKCS#8 PEM) Lares is configured with to sign Apple client secrets;
    /// the fake token endpoint verifies client secrets with its public half.
    pub fn apple_private_key_pem(&self) -> String {
        String::from_utf8(self.apple_secret_key.to_pem_private_key()).expect("PEM is ASCII")
    }

    /// Standard claims for an Apple id token: iss "https://appleid.apple.com", aud, sub,
    /// iat = now_s, exp = now_s + 600, plus "email": "<sub>@privaterelay.appleid.com".
    pub fn apple_claims(sub: &str, aud: &str, now_s: i64) -> Value {
        json!({
            "iss": APPLE_ISSUER,
            "aud": aud,
            "sub": sub,
            "iat": now_s,
            "exp": now_s + 600,
            "email": format!("{sub}@privaterelay.appleid.com"),
        })
    }

    /// Standard claims for a Google id token: iss "https://accounts.google.com", aud, sub,
    /// azp = aud, iat = now_s, exp = now_s + 3600, "email": "<sub>@example.com",
    /// "email_verified": true.
    pub fn google_claims(sub: &str, aud: &str, now_s: i64) -> Value {
        json!({
            "iss": GOOGLE_ISSUER,
            "aud": aud,
            "azp": aud,
            "sub": sub,
            "iat": now_s,
            "exp": now_s + 3600,
            "email": format!("{sub}@example.com"),
            "email_verified": true,
        })
    }

    /// A JWT with these claims for `provider`, signed as `signing` says. The header always has
    /// "typ":"JWT"; the claims are taken verbatim, so they may be malformed on purpose.
    pub fn id_token(&self, provider: Provider, claims: &Value, signing: Signing) -> String {
        let state = self.shared.lock();
        let current = match provider {
            Provider::Apple => &state.apple.current,
            Provider::Google => &state.google.current,
        };
        mint(current, &self.shared.unknown_key, claims, signing)
    }

    /// Generates a new RS256 key for `provider`, makes it the current (signing) key and
    /// publishes it; the previous key is removed from the JWKS. Answers the new kid.
    pub fn rotate_key(&self, provider: Provider) -> String {
        let generation = self.shared.lock().keys(provider).generation + 1;
        let key = RsaKey::generate(format!("{}-key-{generation}", provider.name()));
        let kid = key.kid.clone();
        let mut state = self.shared.lock();
        let keys = state.keys(provider);
        keys.generation = keys.generation.max(generation);
        keys.current = key;
        kid
    }

    /// The kid of the provider's current key.
    pub fn current_kid(&self, provider: Provider) -> String {
        self.shared.lock().keys(provider).current.kid.clone()
    }

    /// How many times the provider's JWKS endpoint was requested.
    pub fn jwks_fetches(&self, provider: Provider) -> usize {
        self.shared.lock().keys(provider).fetches
    }

    /// Sets what the provider's JWKS endpoint does from now on.
    pub fn set_jwks_mode(&self, provider: Provider, mode: JwksMode) {
        self.shared.lock().keys(provider).mode = mode;
    }

    /// The `Cache-Control: public, max-age=N` the JWKS answers carry (default 3600); None = no
    /// header.
    pub fn set_jwks_max_age(&self, provider: Provider, secs: Option<u64>) {
        self.shared.lock().keys(provider).max_age = secs;
    }

    /// Registers a one-time Apple authorization code; exchanging it answers an id token with
    /// `claims` signed by the current Apple key. Answers the code.
    pub fn apple_code(&self, claims: &Value) -> String {
        let code = format!("c{}.0.nrvw.{}", random_hex(16), random_hex(8));
        self.shared.lock().apple_codes.insert(
            code.clone(),
            AppleCode {
                claims: claims.clone(),
                used: false,
            },
        );
        code
    }

    /// Client-secret JWT claims of the exchanges the token endpoint answered with tokens, in
    /// order.
    pub fn apple_exchanges(&self) -> Vec<Value> {
        self.shared.lock().apple_exchanges.clone()
    }

    /// Registers a Facebook user access token. `app_id` is the app it was issued to (use
    /// [`FACEBOOK_APP_ID`] normally, another id for the "token of another app" test); `valid` and
    /// `expires_at` (unix seconds) are what debug_token reports. Answers the token string.
    pub fn facebook_token(
        &self,
        user_id: &str,
        app_id: &str,
        valid: bool,
        expires_at: i64,
    ) -> String {
        let token = format!("EAA{}", random_hex(40));
        self.shared.lock().facebook_tokens.insert(
            token.clone(),
            FacebookToken {
                user_id: user_id.to_owned(),
                app_id: app_id.to_owned(),
                valid,
                expires_at,
                issued_at: now_s() - 60,
            },
        );
        token
    }

    /// Number of Graph API requests rejected for a missing or wrong appsecret_proof.
    pub fn facebook_bad_proofs(&self) -> usize {
        self.shared.lock().facebook_bad_proofs
    }
}

impl Drop for FakeIssuers {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

/// Runs the server on this thread until `stop` fires (or its sender is dropped).
fn serve(data: web::Data<Shared>, ready: oneshot::Sender<SocketAddr>, stop: oneshot::Receiver<()>) {
    actix_rt::System::new().block_on(async move {
        let server = HttpServer::new(move || App::new().app_data(data.clone()).configure(routes))
            .workers(2)
            .disable_signals()
            .shutdown_timeout(1)
            .bind(("127.0.0.1", 0))
            .expect("the fake issuers bind a loopback port");
        let addr = server.addrs()[0];
        let server = server.run();
        let handle = server.handle();
        actix_rt::spawn(async move {
            let _ = stop.await;
            handle.stop(false).await;
        });
        let _ = ready.send(addr);
        server.await.expect("the fake issuers serve");
    });
}

fn routes(config: &mut web::ServiceConfig) {
    config
        .route("/apple/auth/keys", web::get().to(apple_jwks))
        .route("/apple/auth/token", web::post().to(apple_token))
        .route("/google/oauth2/v3/certs", web::get().to(google_jwks))
        .route(
            &format!("/facebook/{GRAPH_VERSION}/debug_token"),
            web::get().to(facebook_debug_token),
        )
        .route(
            &format!("/facebook/{GRAPH_VERSION}/me"),
            web::get().to(facebook_me),
        );
}

async fn apple_jwks(shared: web::Data<Shared>) -> HttpResponse {
    jwks(&shared, Provider::Apple).await
}

async fn google_jwks(shared: web::Data<Shared>) -> HttpResponse {
    jwks(&shared, Provider::Google).await
}

/// A JWKS answer as the provider's mode says; every request is counted.
async fn jwks(shared: &Shared, provider: Provider) -> HttpResponse {
    let mode = {
        let mut state = shared.lock();
        let keys = state.keys(provider);
        keys.fetches += 1;
        keys.mode
    };
    match mode {
        JwksMode::Normal => {}
        JwksMode::Hang => actix_rt::time::sleep(HANG).await,
        JwksMode::Garbage => {
            return HttpResponse::Ok()
                .insert_header((CONTENT_TYPE, "application/json"))
                .body("not json {");
        }
        JwksMode::ServerError => {
            return HttpResponse::InternalServerError()
                .insert_header((CONTENT_TYPE, "text/plain"))
                .body("internal server error");
        }
    }
    let (body, max_age) = {
        let mut state = shared.lock();
        let keys = state.keys(provider);
        (json!({ "keys": [keys.current.public_jwk()] }), keys.max_age)
    };
    let mut response = HttpResponse::Ok();
    if let Some(secs) = max_age {
        response.insert_header((CACHE_CONTROL, format!("public, max-age={secs}")));
    }
    response.json(body)
}

/// Apple's `POST /auth/token` for the `authorization_code` grant.
async fn apple_token(
    shared: web::Data<Shared>,
    form: Result<web::Form<HashMap<String, String>>, actix_web::Error>,
) -> HttpResponse {
    let Ok(web::Form(form)) = form else {
        return oauth_error("invalid_request");
    };
    let field = |name: &str| form.get(name).map(String::as_str).unwrap_or_default();
    if field("grant_type") != "authorization_code" {
        return oauth_error("invalid_request");
    }
    if field("client_id") != APPLE_CLIENT_ID {
        return oauth_error("invalid_client");
    }
    let Some(secret_claims) = check_client_secret(&shared, field("client_secret")) else {
        return oauth_error("invalid_client");
    };

    let mut state = shared.lock();
    let claims = match state.apple_codes.get_mut(field("code")) {
        Some(code) if !code.used => {
            code.used = true;
            code.claims.clone()
        }
        _ => return oauth_error("invalid_grant"),
    };
    if field("redirect_uri") != APPLE_REDIRECT_URI {
        return oauth_error("invalid_grant");
    }
    let id_token = mint(
        &state.apple.current,
        &shared.unknown_key,
        &claims,
        Signing::Current,
    );
    state.apple_exchanges.push(secret_claims);
    drop(state);

    HttpResponse::Ok()
        .insert_header((CACHE_CONTROL, "no-store"))
        .json(json!({
            "access_token": format!("a.{}", random_hex(16)),
            "token_type": "Bearer",
            "expires_in": 3600,
            "refresh_token": format!("r.{}", random_hex(16)),
            "id_token": id_token,
        }))
}

/// The claims of a client secret Apple would accept: an ES256 JWS under [`APPLE_KEY_ID`], signed
/// with the key of [`FakeIssuers::apple_private_key_pem`], issued by the team for the Services ID
/// to Apple, and valid now for at most an hour.
fn check_client_secret(shared: &Shared, secret: &str) -> Option<Value> {
    let (header, claims, signing_input, signature) = split_jws(secret)?;
    if header["alg"] != "ES256" || header["kid"] != APPLE_KEY_ID {
        return None;
    }
    let verifier = ES256
        .verifier_from_pem(&shared.apple_secret_public_pem)
        .expect("the client-secret public key loads");
    verifier.verify(signing_input.as_bytes(), &signature).ok()?;

    let audience_ok = match &claims["aud"] {
        Value::String(aud) => aud == APPLE_ISSUER,
        Value::Array(auds) => auds.len() == 1 && auds[0] == APPLE_ISSUER,
        _ => false,
    };
    // NumericDate: any JSON number, fractions allowed (RFC 7519, section 2).
    let iat = claims["iat"].as_f64()?;
    let exp = claims["exp"].as_f64()?;
    let now = now_s() as f64;
    let valid = claims["iss"] == APPLE_TEAM_ID
        && claims["sub"] == APPLE_CLIENT_ID
        && audience_ok
        && iat <= now + 60.0
        && exp > now
        && exp - iat <= 3600.0 + 60.0;
    valid.then_some(claims)
}

/// Header, claims, signing input and signature of a compact JWS whose header and claims are
/// JSON objects.
fn split_jws(jws: &str) -> Option<(Value, Value, &str, Vec<u8>)> {
    let (signing_input, signature) = jws.rsplit_once('.')?;
    let (header, claims) = signing_input.split_once('.')?;
    let json = |segment: &str| -> Option<Value> {
        let bytes = URL_SAFE_NO_PAD.decode(segment).ok()?;
        serde_json::from_slice::<Value>(&bytes)
            .ok()
            .filter(Value::is_object)
    };
    Some((
        json(header)?,
        json(claims)?,
        signing_input,
        URL_SAFE_NO_PAD.decode(signature).ok()?,
    ))
}

/// An OAuth 2.0 error answer of the token endpoint.
fn oauth_error(error: &str) -> HttpResponse {
    HttpResponse::BadRequest().json(json!({ "error": error }))
}

type Query = web::Query<HashMap<String, String>>;

/// Graph API `GET /debug_token`, called with the app access token.
async fn facebook_debug_token(shared: web::Data<Shared>, query: Query) -> HttpResponse {
    let app_token = format!("{FACEBOOK_APP_ID}|{FACEBOOK_APP_SECRET}");
    let Some(access_token) = query.get("access_token").filter(|t| **t == app_token) else {
        return graph_invalid_token();
    };
    if let Some(proof) = query.get("appsecret_proof")
        && *proof != appsecret_proof(access_token)
    {
        shared.lock().facebook_bad_proofs += 1;
        return graph_bad_proof();
    }
    let Some(input_token) = query.get("input_token") else {
        return graph_error(
            "(#100) The parameter input_token is required",
            "OAuthException",
            100,
        );
    };
    let state = shared.lock();
    let data = match state.facebook_tokens.get(input_token) {
        Some(token) => json!({
            "app_id": token.app_id,
            "type": "USER",
            "application": "Lares Test",
            "expires_at": token.expires_at,
            "is_valid": token.valid,
            "issued_at": token.issued_at,
            "scopes": ["public_profile"],
            "user_id": token.user_id,
        }),
        None => json!({
            "error": { "code": 190, "message": "Invalid OAuth access token." },
            "is_valid": false,
            "scopes": [],
        }),
    };
    HttpResponse::Ok().json(json!({ "data": data }))
}

/// Graph API `GET /me`, called with a user access token and its appsecret_proof. A token that
/// is not valid, or whose `expires_at` (when not 0) has passed, is refused.
async fn facebook_me(shared: web::Data<Shared>, query: Query) -> HttpResponse {
    let token = query.get("access_token").map(String::as_str).unwrap_or("");
    let proof_ok = query
        .get("appsecret_proof")
        .is_some_and(|proof| *proof == appsecret_proof(token));
    let mut state = shared.lock();
    if !proof_ok {
        state.facebook_bad_proofs += 1;
        return graph_bad_proof();
    }
    match state.facebook_tokens.get(token) {
        Some(known) if known.valid && (known.expires_at == 0 || known.expires_at > now_s()) => {
            HttpResponse::Ok().json(json!({ "id": known.user_id }))
        }
        _ => graph_invalid_token(),
    }
}

/// Lowercase hex HMAC-SHA256 of `token` under the app secret.
fn appsecret_proof(token: &str) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(FACEBOOK_APP_SECRET.as_bytes())
        .expect("HMAC takes keys of any length");
    mac.update(token.as_bytes());
    hex::encode(mac.finalize().into_bytes())
}

fn graph_invalid_token() -> HttpResponse {
    graph_error("Invalid OAuth access token.", "OAuthException", 190)
}

fn graph_bad_proof() -> HttpResponse {
    graph_error(
        "Invalid appsecret_proof provided in the API argument",
        "GraphMethodException",
        100,
    )
}

/// A Graph API error answer.
fn graph_error(message: &str, kind: &str, code: u32) -> HttpResponse {
    HttpResponse::build(StatusCode::BAD_REQUEST)
        .json(json!({ "error": { "message": message, "type": kind, "code": code } }))
}

/// A compact JWS of `claims` signed as `signing` says, `current` being the published key.
fn mint(current: &RsaKey, unknown: &RsaKey, claims: &Value, signing: Signing) -> String {
    let (alg, key, kid) = match signing {
        Signing::Current | Signing::Tampered => ("RS256", current, &current.kid),
        Signing::UnknownKey => ("RS256", unknown, &unknown.kid),
        Signing::AlgNone => ("none", current, &current.kid),
        Signing::Hs256WithPublicKey => ("HS256", current, &current.kid),
    };
    let header = json!({ "alg": alg, "kid": kid, "typ": "JWT" });
    let signing_input = format!("{}.{}", segment(&header), segment(claims));
    let signature = match signing {
        Signing::AlgNone => Vec::new(),
        Signing::Hs256WithPublicKey => HS256
            .signer_from_bytes(key.pair.to_pem_public_key())
            .expect("an HMAC key of the public PEM")
            .sign(signing_input.as_bytes())
            .expect("HS256 signs"),
        Signing::Current | Signing::UnknownKey | Signing::Tampered => {
            let mut signature = RS256
                .signer_from_der(key.pair.to_der_private_key())
                .expect("the RSA private key loads")
                .sign(signing_input.as_bytes())
                .expect("RS256 signs");
            if signing == Signing::Tampered {
                let last = signature.len() - 1;
                signature[last / 2] ^= 0x01;
            }
            signature
        }
    };
    format!("{signing_input}.{}", URL_SAFE_NO_PAD.encode(signature))
}

/// A JSON value as an unpadded base64url segment.
fn segment(value: &Value) -> String {
    URL_SAFE_NO_PAD.encode(serde_json::to_vec(value).expect("JSON serialises"))
}

fn random_hex(bytes: usize) -> String {
    let mut buf = vec![0u8; bytes];
    rand::fill(&mut buf[..]);
    hex::encode(buf)
}

fn now_s() -> i64 {
    let since_epoch = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("the clock is after 1970");
    i64::try_from(since_epoch.as_secs()).expect("seconds fit in i64")
}
