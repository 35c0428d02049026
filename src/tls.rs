//! The process's one TLS crypto provider.
//!
//! Every TLS connection the exporter makes (the REST client, through reqwest and rustls) and
//! every one the simulator serves uses rustls with *ring*. reqwest is built with
//! `rustls-no-provider`, so it would otherwise fall back to compiling in a second provider
//! (aws-lc-rs); instead it picks up the process default that [`install_crypto_provider`]
//! installs. One provider means one crypto library in the build: shorter builds and a smaller
//! binary (see `docs/architecture.md`).

/// Installs rustls' *ring* provider as the process default, once.
///
/// Idempotent and cheap after the first call; `RestClient::new` calls it
/// before building its HTTP client, so library users need not. Code that builds its own
/// `reqwest::Client` in the same process (tests do) must call it first: without a process
/// default, reqwest panics when it builds a client.
///
/// If another provider was installed first (by an embedding program), that one stays.
pub fn install_crypto_provider() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        // Err means a default is already installed, which is all we need.
        let _ = rustls::crypto::ring::default_provider().install_default();
    });
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_reqwest_client_builds_after_install() {
        super::install_crypto_provider();
        super::install_crypto_provider();
        assert!(rustls::crypto::CryptoProvider::get_default().is_some());
        reqwest::Client::builder().build().expect("client");
    }
}
