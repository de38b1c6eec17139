//! devserver: a Convex-like sync server on 127.0.0.1 with token verification like Convex's
//! `auth.config`, an embedded dev issuer, counters and fault switches — for authlane's demo and
//! end-to-end tests. `devserver --help` lists the flags.
//!
//! Modules, in layers: each uses only modules on lower lines, so no two import each other
//! (`tests/module_graph.rs` checks this against the `use crate::` lines).
//!
//! ```text
//! router                                       the route table, CORS and no-store
//! sync  workos  debug_routes  static_files     websocket sessions; the WorkOS grant; /debug/*; --serve
//! issuer_routes                                discovery, JWKS, sign-in, refresh grant, token faults
//! state  http                                  AppState and Control; body parsing, 404
//! functions                                    the store and the query/mutation/action registry
//! verify                                       token verification like Convex's auth.config
//! config  issuer  stats                        flags and auth config; the dev issuer; counters, faults
//! ```

mod config;
mod debug_routes;
mod functions;
mod http;
mod issuer;
mod issuer_routes;
mod router;
mod state;
mod static_files;
mod stats;
mod sync;
mod verify;
mod workos;

use std::io::Write;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::{broadcast, watch};

use config::{Options, Provider};
use state::AppState;
use stats::{Faults, Stats};

fn fail(message: &str) -> ! {
    eprintln!("devserver: {message}");
    std::process::exit(2);
}

async fn shutdown_signal() {
    let mut terminate = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .expect("SIGTERM handler");
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = terminate.recv() => {}
    }
}

#[tokio::main]
async fn main() {
    let options = Options::parse(std::env::args().skip(1)).unwrap_or_else(|message| fail(&message));
    // Read before binding (a missing file fails fast), parsed after (it may name `{origin}`).
    let auth_config = options.auth_config.as_ref().map(|path| {
        let text = std::fs::read_to_string(path)
            .unwrap_or_else(|error| fail(&format!("--auth-config {}: {error}", path.display())));
        (text, path.display().to_string())
    });
    let listener =
        tokio::net::TcpListener::bind(SocketAddr::from((Ipv4Addr::LOCALHOST, options.port)))
            .await
            .unwrap_or_else(|error| {
                fail(&format!(
                    "cannot listen on 127.0.0.1:{}: {error}",
                    options.port
                ))
            });
    let origin = format!("http://{}", listener.local_addr().expect("bound address"));
    let mut providers = match &auth_config {
        Some((text, source)) => {
            config::parse_auth_config(&config::with_origin(text, &origin), source)
                .unwrap_or_else(|message| fail(&message))
        }
        None => Vec::new(),
    };
    if options.embedded_issuer {
        providers.push(Provider::Oidc {
            domain: origin.clone(),
            application_id: "convex".into(),
        });
    }
    if providers.is_empty() {
        fail("no auth providers: give --auth-config or drop --no-embedded-issuer");
    }

    let stats = Arc::new(Stats::new());
    let fetch_counter = stats.clone();
    let faults = Faults {
        token_lifetime_seconds: options.token_lifetime_secs,
        ..Faults::default()
    };
    let state = Arc::new(AppState {
        issuer: issuer::Issuer::new(origin.clone()),
        verifier: verify::Verifier::new(
            providers,
            Box::new(move || fetch_counter.bump("jwksFetches")),
        ),
        stats,
        faults: Mutex::new(faults),
        store: Mutex::new(functions::Store::new()),
        data: watch::channel(0).0,
        control: broadcast::channel(16).0,
        shutdown: watch::channel(false).0,
        next_session: AtomicU64::new(0),
        options,
    });
    for provider in state.verifier.providers() {
        state.log(format!(
            "trusting {} (applicationID {:?})",
            provider.issuer(),
            provider.application_id()
        ));
    }
    for (prefix, dir) in &state.options.serve {
        state.log(format!("serving {} at {origin}{prefix}/", dir.display()));
    }
    println!("devserver listening on {origin}");
    std::io::stdout().flush().ok();

    let app = router::router(state.clone());
    let stopping = state.clone();
    let serve = axum::serve(listener, app).with_graceful_shutdown(async move {
        shutdown_signal().await;
        stopping.log("shutting down".into());
        stopping.shutdown.send_replace(true);
    });
    let mut shutdown = state.shutdown.subscribe();
    tokio::select! {
        result = serve => if let Err(error) = result { fail(&format!("server error: {error}")) },
        // Graceful shutdown waits for open connections; give them 3 s after the signal.
        _ = async { let _ = shutdown.wait_for(|stop| *stop).await; tokio::time::sleep(Duration::from_secs(3)).await } => {}
    }
    // Upgraded websockets are not connections axum's graceful shutdown waits for: give each sync
    // session (each holds a shutdown receiver) up to 3 s to send its 1001 Close before exiting.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(3);
    while state.shutdown.receiver_count() > 1 && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    drop(shutdown);
}
