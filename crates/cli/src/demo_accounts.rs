//! The demo's accounts, made through the same HTTP API people use: a supervisor, one
//! patient account per simulated watch (each with a paired device and a read-only API
//! token for curl), and a hospital and a public-health office, approved by the
//! supervisor, to which the first patient grants consent on chain. Every password is
//! generated and printed once.

use anyhow::{Context, Result, bail};
use reqwest::{Client, Method, StatusCode};
use serde_json::{Value, json};
use vitalis_access::Role;
use vitalis_store::Store;
use vitalis_store::directory::{AccountStatus, NewAccount};

use crate::admin::generate_password;

/// A signed-in session against the demo server.
#[derive(Default, Clone)]
struct Session {
    cookie: Option<String>,
    csrf: Option<String>,
}

/// What the demo made: lines to print, and the watches' device tokens.
pub(crate) struct DemoAccounts {
    /// Sign-in details and directions, one line each.
    pub(crate) lines: Vec<String>,
    /// One device token per demo patient.
    pub(crate) device_tokens: Vec<String>,
}

struct Api {
    client: Client,
    base: String,
}

impl Api {
    async fn call(
        &self,
        session: &Session,
        method: Method,
        path: &str,
        body: Option<Value>,
    ) -> Result<(Value, Option<String>)> {
        let mut request = self.client.request(method, format!("{}{path}", self.base));
        if let Some(cookie) = &session.cookie {
            request = request.header("cookie", cookie);
        }
        if let Some(csrf) = &session.csrf {
            request = request.header("x-csrf-token", csrf);
        }
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request
            .send()
            .await
            .with_context(|| format!("demo: {path}"))?;
        let status = response.status();
        let cookie = response
            .headers()
            .get("set-cookie")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(';').next())
            .map(str::to_owned);
        let body: Value = response.json().await.unwrap_or(Value::Null);
        if !status.is_success() && status != StatusCode::NO_CONTENT {
            bail!("demo: {path} answered {status}: {body}");
        }
        Ok((body, cookie))
    }

    async fn sign_up(
        &self,
        role: &str,
        email: &str,
        name: &str,
        institution: Option<&str>,
    ) -> Result<(Value, String, Session)> {
        let password = generate_password();
        let (body, cookie) = self
            .call(
                &Session::default(),
                Method::POST,
                "/api/v1/auth/signup",
                Some(
                    json!({ "role": role, "email": email, "password": password.as_str(),
                             "name": name, "institution_name": institution }),
                ),
            )
            .await?;
        let session = Session {
            cookie,
            csrf: body["csrf_token"].as_str().map(str::to_owned),
        };
        Ok((body, password.as_str().to_owned(), session))
    }

    async fn sign_in(&self, email: &str, password: &str) -> Result<Session> {
        let (body, cookie) = self
            .call(
                &Session::default(),
                Method::POST,
                "/api/v1/auth/signin",
                Some(json!({ "email": email, "password": password })),
            )
            .await?;
        Ok(Session {
            cookie,
            csrf: body["csrf_token"].as_str().map(str::to_owned),
        })
    }
}

fn text(v: &Value) -> String {
    v.as_str().unwrap_or_default().to_owned()
}

/// Creates the demo's accounts on the server at `base`.
pub(crate) async fn create(base: &str, store: &dyn Store, patients: usize) -> Result<DemoAccounts> {
    let api = Api {
        client: Client::new(),
        base: base.to_owned(),
    };
    let mut lines = Vec::new();
    let supervisor_password = generate_password();
    store
        .create_account(NewAccount {
            role: Role::Supervisor,
            email: "supervisor@demo.invalid".to_owned(),
            name: "Demo supervisor".to_owned(),
            password_hash: Some(vitalis_crypto::seal::hash_password(
                &supervisor_password,
                &mut rand::rng(),
            )?),
            status: AccountStatus::Active,
            institution: None,
            key: None,
        })
        .await?;
    let supervisor = api
        .sign_in("supervisor@demo.invalid", &supervisor_password)
        .await?;
    lines.push(format!(
        "Supervisor: supervisor@demo.invalid / {}",
        supervisor_password.as_str()
    ));

    let mut device_tokens = Vec::new();
    let mut first: Option<(String, Session)> = None;
    for n in 1..=patients {
        let email = format!("patient{n}@demo.invalid");
        let (body, password, session) = api
            .sign_up("patient", &email, &format!("Demo patient {n}"), None)
            .await?;
        let id = text(&body["account"]["patient_id"]);
        let (device, _) = api
            .call(
                &session,
                Method::POST,
                &format!("/api/v1/patients/{id}/devices"),
                Some(json!({ "name": format!("Demo watch {n}"), "upload_interval_s": 5 })),
            )
            .await?;
        device_tokens.push(text(&device["token"]));
        let (token, _) = api
            .call(
                &session,
                Method::POST,
                "/api/v1/auth/tokens",
                Some(json!({ "name": "demo curl", "scopes": ["read"] })),
            )
            .await?;
        let token = text(&token["token"]);
        lines.push(format!(
            "Patient {n}: {email} / {password}  (patient id {id})"
        ));
        lines.push(format!(
            "  readings: curl -H 'Authorization: Bearer {token}' '{base}/api/v1/patients/{id}/readings?metric=heart_rate&limit=20'"
        ));
        lines.push(format!(
            "  live:     curl -N -H 'Authorization: Bearer {token}' {base}/api/v1/patients/{id}/live"
        ));
        lines.push(format!(
            "  records:  curl -H 'Authorization: Bearer {token}' {base}/api/v1/patients/{id}/records"
        ));
        lines.push(format!(
            "  verify:   curl -H 'Authorization: Bearer {token}' {base}/api/v1/patients/{id}/verify"
        ));
        if first.is_none() {
            first = Some((id, session));
        }
    }

    let Some((patient_id, patient)) = first else {
        return Ok(DemoAccounts {
            lines,
            device_tokens,
        });
    };
    for (role, email, name, sections, purpose) in [
        (
            "hospital",
            "hospital@demo.invalid",
            "Demo General Hospital",
            json!(["open", "protected"]),
            "care",
        ),
        (
            "enterprise",
            "health-office@demo.invalid",
            "Demo Public Health Office",
            json!(["open"]),
            "public health statistics",
        ),
    ] {
        let (body, password, _) = api.sign_up(role, email, name, Some(name)).await?;
        let institution = text(&body["account"]["institution_id"]);
        api.call(
            &supervisor,
            Method::POST,
            &format!("/api/v1/institutions/{institution}/approve"),
            None,
        )
        .await?;
        let expires = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_millis() as i64)
            .unwrap_or(0)
            + 30 * 86_400_000;
        let (grant, _) = api
            .call(
                &patient,
                Method::POST,
                &format!("/api/v1/patients/{patient_id}/consents"),
                Some(
                    json!({ "institution_id": institution, "access": ["read"], "sections": sections,
                             "purpose": purpose, "expires_at": expires }),
                ),
            )
            .await?;
        lines.push(format!(
            "{name} ({role}): {email} / {password}; patient 1 granted it {} on chain (block {}, grant {})",
            grant["sections"], grant["block"], text(&grant["grant_id"])
        ));
    }
    lines.push(format!(
        "Access log of patient 1 (who read what, verified on chain): sign in as patient 1, then GET {base}/api/v1/patients/{patient_id}/access-log"
    ));
    Ok(DemoAccounts {
        lines,
        device_tokens,
    })
}
