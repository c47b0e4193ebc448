//! Signing in (and the first admin's setup), signing out, and who is
//! signed in.

#[cfg(feature = "ssr")]
use super::ssr;
#[cfg(feature = "ssr")]
use crate::server::http::session;
#[cfg(feature = "ssr")]
use crate::server::service::SignInFrom;
use leptos::prelude::*;
use serde::{Deserialize, Serialize};

/// The signed-in person, as the UI needs them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Me {
    pub email: String,
    pub name: String,
    pub admin: bool,
}

#[server(prefix = "/rpc", endpoint = "whoami")]
pub async fn whoami() -> Result<Option<Me>, ServerFnError> {
    let service = ssr::service()?;
    let headers = ssr::headers().await?;
    let user = session::current_user(&service, &headers)
        .await
        .map_err(ssr::to_fn_error)?;
    Ok(user.map(|user| Me {
        admin: user.role == crate::server::domain::Role::Admin,
        email: user.email,
        name: user.name,
    }))
}

/// The longest `next` path followed after sign-in.
const MAX_NEXT_LEN: usize = 2048;

/// Where to go after sign-in: `next` if it is a path on this site, else `/`
/// (no open redirect). Browsers drop tabs and newlines from a URL and read
/// `\\` as `/`, so `/\t/evil.example` or `/\\evil.example` would leave for
/// another host: only printable ASCII is accepted (anything else arrives
/// percent-encoded from a browser), and the path, decoded too, must not
/// start with two slashes or hold a backslash or control character. The
/// answer is always a valid `Location` header.
pub fn safe_next(next: Option<&str>) -> String {
    let Some(path) = next else {
        return "/".to_owned();
    };
    let printable = path.bytes().all(|b| b.is_ascii_graphic());
    let decoded = percent_decode(path);
    let stays_here = |p: &[u8]| {
        p.first() == Some(&b'/')
            && !matches!(p.get(1), Some(b'/' | b'\\'))
            && !p.iter().any(|b| *b == b'\\' || b.is_ascii_control())
    };
    if path.len() <= MAX_NEXT_LEN
        && printable
        && stays_here(path.as_bytes())
        && stays_here(&decoded)
    {
        path.to_owned()
    } else {
        "/".to_owned()
    }
}

/// `%XX` escapes decoded to bytes; anything else kept as it is.
fn percent_decode(raw: &str) -> Vec<u8> {
    let bytes = raw.as_bytes();
    let mut decoded = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok())
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        match (bytes[i], hex) {
            (b'%', Some(byte)) => {
                decoded.push(byte);
                i += 3;
            }
            (byte, _) => {
                decoded.push(byte);
                i += 1;
            }
        }
    }
    decoded
}

#[cfg(test)]
mod tests {
    use super::safe_next;

    #[test]
    fn next_stays_on_this_site() {
        for good in ["/", "/history?q=refund", "/approvals/apr_01JD", "/a%20b"] {
            assert_eq!(safe_next(Some(good)), good);
        }
        for evil in [
            "//evil.example",
            "/\t/evil.example",
            "/\n/evil.example",
            "/\r\n/evil.example",
            "/\\evil.example",
            "\\\\evil.example",
            "/%09/evil.example",
            "/%0d%0a/evil.example",
            "/%2f/evil.example",
            "/%5c/evil.example",
            "/%5Cevil.example",
            "https://evil.example",
            "evil.example",
            "/\u{7f}",
            "/caf\u{e9}",
            "/ space",
            "",
        ] {
            assert_eq!(safe_next(Some(evil)), "/", "{evil:?}");
        }
        assert_eq!(safe_next(Some(&format!("/{}", "a".repeat(5000)))), "/");
        assert_eq!(safe_next(None), "/");
    }
}

#[server(prefix = "/rpc", endpoint = "login")]
pub async fn login(
    email: String,
    password: String,
    next: Option<String>,
) -> Result<(), ServerFnError> {
    let service = ssr::service()?;
    let secure = service.config().secure_cookies;
    let address = ssr::client_address(&service).await;
    let user_agent = ssr::device().await;
    let headers = ssr::headers().await?;
    let device_token = session::device_token(&headers, secure);
    let from = SignInFrom {
        address,
        user_agent: user_agent.as_deref(),
        device_token: device_token.as_deref(),
    };
    match service
        .sign_in(&email, &password, from)
        .await
        .map_err(ssr::to_fn_error)?
    {
        Some(signed_in) => {
            ssr::set_cookie(session::session_cookie(&signed_in.session_token, secure));
            if let Some(token) = &signed_in.new_device_token {
                ssr::set_cookie(session::device_cookie(token, secure));
            }
            leptos_axum::redirect(&safe_next(next.as_deref()));
            Ok(())
        }
        None => Err(ssr::fail(
            axum::http::StatusCode::UNAUTHORIZED,
            "That email and password do not match an active account.",
        )),
    }
}

/// Creates the first admin through the one-time link printed at first start,
/// and signs them in.
#[server(prefix = "/rpc", endpoint = "setup")]
pub async fn setup(
    token: String,
    email: String,
    name: Option<String>,
    password: String,
) -> Result<(), ServerFnError> {
    let service = ssr::service()?;
    let user = service
        .setup_first_admin(&token, &email, name.as_deref(), &password)
        .await
        .map_err(ssr::to_fn_error)?;
    ssr::start_session(&service, &user).await?;
    leptos_axum::redirect("/");
    Ok(())
}

#[server(prefix = "/rpc", endpoint = "logout")]
pub async fn logout() -> Result<(), ServerFnError> {
    let service = ssr::service()?;
    let headers = ssr::headers().await?;
    session::sign_out(&service, &headers)
        .await
        .map_err(ssr::to_fn_error)?;
    ssr::set_cookie(session::clear_session_cookie(
        service.config().secure_cookies,
    ));
    leptos_axum::redirect("/login");
    Ok(())
}
