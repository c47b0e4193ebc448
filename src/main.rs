#[cfg(feature = "ssr")]
#[tokio::main]
async fn main() -> std::process::ExitCode {
    holdpoint::server::cli::run().await
}

#[cfg(not(feature = "ssr"))]
fn main() {
    // The browser build is a library; cargo-leptos builds the server with `ssr`.
}
