//! The web interface: the single-page application built from `web/` by `npm run
//! build:web` and embedded in the binary by `build.rs`.
//!
//! | path | answer |
//! |---|---|
//! | `/`, `/app`, `/app/…` | `index.html` (the app routes itself from the path) |
//! | `/assets/…` | the bundle's scripts, styles and images |
//! | `/favicon.ico` | the icon (`assets/icon.svg`), for pages that name none |
//!
//! Every answer carries a strict Content-Security-Policy: scripts, styles, images and
//! connections from this origin only, no inline script, no framing. Assets whose name
//! holds esbuild's content hash (`app-7QKX2M5B.js`) are cached for a year as immutable;
//! everything else is revalidated by its ETag on every use. A binary built without
//! `web/dist` answers `/` and `/app/…` with a plain page saying how to build the interface.

use std::collections::HashMap;
use std::sync::OnceLock;

use axum::Router;
use axum::body::Body;
use axum::extract::Path;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use sha2::{Digest, Sha256};

use crate::error::ApiError;

mod embedded {
    include!(concat!(env!("OUT_DIR"), "/web_assets.rs"));
}

/// The policy of every page and asset of the interface.
pub(crate) const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; script-src 'self'; \
     style-src 'self'; img-src 'self' data:; connect-src 'self'; font-src 'self'; \
     object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

/// The policy of the page shown when the interface was not built: it has no script.
const NOT_BUILT_POLICY: &str = "default-src 'none'; frame-ancestors 'none'";

/// The page served at `/` by a binary built without `web/dist`.
const NOT_BUILT_PAGE: &str = "<!doctype html>\n<html lang=\"en\">\n<head>\n\
<meta charset=\"utf-8\">\n<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
<title>Vitalis</title>\n</head>\n<body>\n<h1>Vitalis</h1>\n\
<p>The web interface was not built into this binary. Run <code>./scripts/demo.sh</code>, \
which builds it with npm before starting the demo, or run <code>npm ci</code> and \
<code>npm run build:web</code> and build the binary again.</p>\n\
<p>The HTTP API is served under <code>/api/v1</code>.</p>\n</body>\n</html>\n";

/// The interface's routes; they use no state, so they merge into any router.
pub(crate) fn routes<S: Clone + Send + Sync + 'static>() -> Router<S> {
    Router::new()
        .route("/", get(app_page))
        .route("/app", get(app_page))
        .route("/app/{*route}", get(app_page))
        .route("/assets/{*file}", get(asset))
        .route("/favicon.ico", get(favicon))
}

/// One embedded file, with what is needed to serve it.
struct Asset {
    bytes: &'static [u8],
    content_type: &'static str,
    etag: HeaderValue,
    immutable: bool,
}

/// The embedded files by path, built on first use.
fn assets() -> &'static HashMap<&'static str, Asset> {
    static ASSETS: OnceLock<HashMap<&'static str, Asset>> = OnceLock::new();
    ASSETS.get_or_init(|| {
        embedded::ASSETS
            .iter()
            .map(|(path, bytes)| {
                let digest = Sha256::digest(bytes);
                let etag = HeaderValue::from_str(&format!("\"{}\"", hex::encode(&digest[..12])))
                    .unwrap_or_else(|_| HeaderValue::from_static("\"0\""));
                let asset = Asset {
                    bytes,
                    content_type: content_type(path),
                    etag,
                    immutable: is_hashed(path),
                };
                (*path, asset)
            })
            .collect()
    })
}

/// The media type of a file, by its extension.
fn content_type(path: &str) -> &'static str {
    match path.rsplit_once('.').map(|(_, ext)| ext) {
        Some("html") => "text/html; charset=utf-8",
        Some("js" | "mjs") => "text/javascript; charset=utf-8",
        Some("css") => "text/css; charset=utf-8",
        Some("svg") => "image/svg+xml",
        Some("png") => "image/png",
        Some("ico") => "image/x-icon",
        Some("json" | "map") => "application/json",
        Some("webmanifest") => "application/manifest+json",
        Some("woff2") => "font/woff2",
        Some("txt") => "text/plain; charset=utf-8",
        _ => "application/octet-stream",
    }
}

/// Whether a file name carries esbuild's content hash (`name-XXXXXXXX.ext`, eight
/// characters of base32), so that its contents never change under that name.
fn is_hashed(path: &str) -> bool {
    let name = path.rsplit('/').next().unwrap_or(path);
    let Some((stem, _ext)) = name.rsplit_once('.') else {
        return false;
    };
    let Some((_, hash)) = stem.rsplit_once('-') else {
        return false;
    };
    hash.len() == 8
        && hash
            .bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit())
}

/// Headers every answer of the interface carries.
fn security_headers(headers: &mut HeaderMap, policy: &'static str) {
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(policy),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
}

/// Serves `asset`, or 304 when the client's copy is current.
fn serve(asset: &Asset, request: &HeaderMap) -> Response {
    let current = request
        .get(header::IF_NONE_MATCH)
        .is_some_and(|tags| tags.as_bytes() == asset.etag.as_bytes());
    let mut response = if current {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        Response::new(Body::from(asset.bytes))
    };
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(asset.content_type),
    );
    headers.insert(header::ETAG, asset.etag.clone());
    headers.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static(if asset.immutable {
            "public, max-age=31536000, immutable"
        } else {
            "no-cache"
        }),
    );
    security_headers(headers, CONTENT_SECURITY_POLICY);
    response
}

/// `index.html` for every route of the app, or the page saying it was not built.
async fn app_page(request: HeaderMap) -> Response {
    if let Some(index) = assets().get("index.html") {
        return serve(index, &request);
    }
    let mut response = Response::new(Body::from(NOT_BUILT_PAGE));
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    security_headers(headers, NOT_BUILT_POLICY);
    response
}

/// A file of the bundle, or the API's 404.
async fn asset(Path(file): Path<String>, request: HeaderMap) -> Result<Response, ApiError> {
    assets()
        .get(format!("assets/{file}").as_str())
        .map(|asset| serve(asset, &request))
        .ok_or(ApiError::NotFound)
}

/// The icon, for pages that name none (browsers ask for `/favicon.ico` by themselves).
async fn favicon(request: HeaderMap) -> Result<Response, ApiError> {
    assets()
        .get("assets/icon.svg")
        .map(|asset| serve(asset, &request))
        .ok_or(ApiError::NotFound)
}

#[cfg(test)]
mod tests {
    use axum::http::Request;
    use tower::ServiceExt;

    use super::*;

    async fn get(path: &str, headers: &[(header::HeaderName, &str)]) -> Response {
        let mut request = Request::builder().uri(path);
        for (name, value) in headers {
            request = request.header(name, *value);
        }
        routes::<()>()
            .oneshot(request.body(Body::empty()).unwrap())
            .await
            .unwrap()
    }

    async fn text(response: Response) -> String {
        let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
            .await
            .unwrap();
        String::from_utf8(bytes.to_vec()).unwrap()
    }

    #[test]
    fn media_types_follow_the_extension() {
        assert_eq!(content_type("index.html"), "text/html; charset=utf-8");
        assert_eq!(
            content_type("assets/app-ABCDEFGH.js"),
            "text/javascript; charset=utf-8"
        );
        assert_eq!(content_type("assets/app.css"), "text/css; charset=utf-8");
        assert_eq!(content_type("assets/icon.svg"), "image/svg+xml");
        assert_eq!(content_type("README"), "application/octet-stream");
    }

    #[test]
    fn only_content_hashed_names_are_immutable() {
        assert!(is_hashed("assets/app-7QKX2M5B.js"));
        assert!(is_hashed("assets/uplot-chunk-AB23CD45.css"));
        assert!(!is_hashed("index.html"));
        assert!(!is_hashed("assets/icon.svg"));
        assert!(!is_hashed("assets/app-short.js"));
        assert!(!is_hashed("assets/app-lowercas.js"));
    }

    #[tokio::test]
    async fn every_app_route_gets_the_page_with_a_strict_policy() {
        for path in ["/", "/app", "/app/dashboard", "/app/patients/p1"] {
            let response = get(path, &[]).await;
            assert_eq!(response.status(), StatusCode::OK, "{path}");
            let headers = response.headers();
            assert_eq!(
                headers[header::CONTENT_TYPE],
                "text/html; charset=utf-8",
                "{path}"
            );
            assert_eq!(headers[header::CACHE_CONTROL], "no-cache", "{path}");
            let policy = headers[header::CONTENT_SECURITY_POLICY].to_str().unwrap();
            assert!(!policy.contains("unsafe-inline"), "{policy}");
            assert!(policy.contains("frame-ancestors 'none'"), "{policy}");
            assert_eq!(headers[header::X_CONTENT_TYPE_OPTIONS], "nosniff");
            let body = text(response).await;
            assert!(body.starts_with("<!doctype html>"), "{path}: {body}");
        }
    }

    #[tokio::test]
    async fn the_page_names_what_it_needs() {
        let body = text(get("/", &[]).await).await;
        if assets().contains_key("index.html") {
            // Every script and stylesheet the page names is served with its media type,
            // and none of it is inline.
            assert!(!body.contains("<script>"), "{body}");
            let mut named = 0;
            for part in body.split("\"/assets/").skip(1) {
                let file = part.split('"').next().unwrap();
                let response = get(&format!("/assets/{file}"), &[]).await;
                assert_eq!(response.status(), StatusCode::OK, "{file}");
                assert_eq!(
                    response.headers()[header::CONTENT_TYPE],
                    content_type(file),
                    "{file}"
                );
                named += 1;
            }
            assert!(named >= 2, "the page names its script and styles: {body}");
        } else {
            assert!(body.contains("./scripts/demo.sh"), "{body}");
            assert!(!body.contains("<script"), "{body}");
        }
    }

    #[tokio::test]
    async fn assets_revalidate_by_etag_and_unknown_files_are_404() {
        let missing = get("/assets/nothing-here.js", &[]).await;
        assert_eq!(missing.status(), StatusCode::NOT_FOUND);
        let Some((path, _)) = embedded::ASSETS
            .iter()
            .find(|(p, _)| p.starts_with("assets/"))
        else {
            return;
        };
        let first = get(&format!("/{path}"), &[]).await;
        assert_eq!(first.status(), StatusCode::OK);
        let etag = first.headers()[header::ETAG].to_str().unwrap().to_owned();
        let again = get(&format!("/{path}"), &[(header::IF_NONE_MATCH, &etag)]).await;
        assert_eq!(again.status(), StatusCode::NOT_MODIFIED);
        assert!(text(again).await.is_empty());
    }
}
