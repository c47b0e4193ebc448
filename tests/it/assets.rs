//! The built site's files (`/pkg/`): named after their content and cached
//! for a year, and served as the brotli or gzip copy a browser accepts.
//!
//! The server runs on a copy of the site cargo-leptos built, with a brotli
//! and a gzip copy of the WASM beside it (as `--precompress` leaves them in
//! release builds), so what is checked is how they are served. HTTP only:
//! SQLite.

use crate::common::{header, spawn_app_with};
use holdpoint::testkit::Backend;
use std::path::Path;

const YEAR: &str = "public, max-age=31536000, immutable";

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

/// The hashes cargo-leptos wrote beside the server it built last (release
/// in the test command, debug after a `cargo leptos build`): the newest of
/// the two matches what is in target/site.
fn hash_file_of_built_site() -> std::path::PathBuf {
    ["target/release/hash.txt", "target/debug/hash.txt"]
        .iter()
        .map(Path::new)
        .filter_map(|path| Some((path.metadata().ok()?.modified().ok()?, path)))
        .max()
        .map(|(_, path)| path.to_path_buf())
        .expect("no hash.txt beside a built server: run `cargo leptos build` first")
}

/// The `/pkg/` files a page names (its script, WASM and stylesheet).
fn built_files_named_in(html: &str) -> Vec<String> {
    let mut names: Vec<String> = html
        .split("/pkg/")
        .skip(1)
        .filter_map(|rest| rest.split(['"', '\'', ' ', ')']).next())
        .map(str::to_owned)
        .collect();
    names.sort();
    names.dedup();
    names
}

#[tokio::test]
async fn built_files_have_hashed_names_a_year_of_cache_and_precompressed_copies() {
    let built = Path::new("target/site/pkg");
    assert!(
        built.is_dir(),
        "no built site: run `cargo leptos build` first (scripts/test.sh does)"
    );
    let site = tempfile::tempdir().unwrap();
    copy_dir(Path::new("target/site"), site.path());
    let root = site.path().to_str().unwrap();
    // The test's server is not the build that made the site: it reads that
    // build's hashes by name (an absolute name is not joined to its folder).
    let hashes = std::path::absolute(hash_file_of_built_site()).unwrap();
    let hashes = hashes.to_str().unwrap();
    let app = spawn_app_with(
        Backend::Sqlite,
        &[
            ("LEPTOS_SITE_ROOT", root),
            ("LEPTOS_HASH_FILE_NAME", hashes),
        ],
    )
    .await;

    let page = app.page(None, "/login").await;
    assert!(
        !header(&page, "cache-control").contains("immutable"),
        "a page is never kept as is"
    );
    let names = built_files_named_in(&page.text().await.unwrap());
    for ext in ["js", "wasm", "css"] {
        assert!(
            names.iter().any(|name| name.ends_with(&format!(".{ext}"))),
            "the page names no .{ext}: {names:?}"
        );
    }
    for name in &names {
        // holdpoint.<hash>.<ext>: a new build gives a new name.
        assert_eq!(name.split('.').count(), 3, "not a hashed name: {name}");
        let response = app
            .client
            .get(app.url(&format!("/pkg/{name}")))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200, "{name}");
        assert_eq!(header(&response, "cache-control"), YEAR, "{name}");
        let on_disk = std::fs::read(site.path().join("pkg").join(name)).unwrap();
        assert_eq!(response.bytes().await.unwrap(), on_disk, "{name}");
    }

    let wasm = names.iter().find(|name| name.ends_with(".wasm")).unwrap();
    let path = site.path().join("pkg").join(wasm);
    std::fs::write(format!("{}.br", path.display()), b"the brotli copy").unwrap();
    std::fs::write(format!("{}.gz", path.display()), b"the gzip copy").unwrap();
    for (accepted, encoding, body) in [
        ("br, gzip", "br", &b"the brotli copy"[..]),
        ("gzip", "gzip", &b"the gzip copy"[..]),
    ] {
        let response = app
            .client
            .get(app.url(&format!("/pkg/{wasm}")))
            .header("accept-encoding", accepted)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        assert_eq!(
            header(&response, "content-encoding"),
            encoding,
            "{accepted}"
        );
        assert_eq!(header(&response, "content-type"), "application/wasm");
        assert_eq!(header(&response, "cache-control"), YEAR);
        assert!(header(&response, "vary")
            .to_lowercase()
            .contains("accept-encoding"));
        assert_eq!(&response.bytes().await.unwrap()[..], body);
    }

    // A name no build made: not found, and nothing told to keep it.
    let missing = app
        .client
        .get(app.url("/pkg/holdpoint.nohash.wasm"))
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), 404);
    assert!(!header(&missing, "cache-control").contains("immutable"));
}
