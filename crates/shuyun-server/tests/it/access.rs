//! The access matrix: every route × every role, by session and by token,
//! and with no credentials. Deny by default must hold everywhere.

use reqwest::{Method, StatusCode};
use shuyun_client::Client;
use shuyun_domain::{Permission, Role};
use shuyun_server::routes::{Kind, table};
use shuyun_store::Backend;

use crate::both_backends;
use crate::kit::{PASSWORD, spawn_app, user_of};

both_backends!(access_matrix);

fn concrete(path: &str) -> String {
    // Unknown IDs: the guard runs before the handler, so authorization is
    // decided before anything is looked up, and nothing is changed.
    path.replace("{id}", "999999")
        .replace("{version}", "1")
        .replace("{rid}", "1")
        .replace("{index}", "999999")
        .replace("{lang}", "en")
        .replace("{item}", "0")
}

fn denied(status: StatusCode) -> bool {
    status == StatusCode::UNAUTHORIZED || status == StatusCode::FORBIDDEN
}

async fn check(client: &Client, method: &Method, path: &str, kind: Kind) -> (StatusCode, String) {
    let body = (method != Method::GET).then_some("{}");
    let ct = if kind == Kind::Page {
        "application/x-www-form-urlencoded"
    } else {
        "application/json"
    };
    let r = client
        .raw(method.clone(), path, body, ct)
        .await
        .expect("request");
    (r.status, r.body)
}

async fn access_matrix(backend: Backend) {
    let app = spawn_app(backend).await;
    let mut routes = table();
    // Sign-out ends the session: check it last.
    routes.sort_by_key(|r| r.path.ends_with("logout"));
    let mut checked = 0;

    // No credentials.
    let anon = Client::without_redirects(&app.base).expect("client");
    for r in &routes {
        let path = concrete(r.path);
        let (status, body) = check(&anon, &r.method, &path, r.kind).await;
        if r.perm == Permission::Public {
            assert!(
                !denied(status),
                "{} {path} is public but answered {status}: {body}",
                r.method
            );
        } else if r.kind == Kind::Page {
            assert_eq!(
                status,
                StatusCode::SEE_OTHER,
                "{} {path} without login must redirect",
                r.method
            );
        } else {
            assert_eq!(
                status,
                StatusCode::UNAUTHORIZED,
                "{} {path} without credentials",
                r.method
            );
        }
        assert!(
            !status.is_server_error(),
            "{} {path}: {status} {body}",
            r.method
        );
        checked += 1;
    }

    for role in Role::ALL {
        let username = user_of(role);
        // By session (pages and API; the client sends the CSRF header).
        let mut session = Client::without_redirects(&app.base).expect("client");
        session.login(username, PASSWORD).await.expect("login");
        // By an unscoped token.
        let token: serde_json::Value = session
            .post(
                "/api/v1/me/tokens",
                &serde_json::json!({"name": "matrix", "expires_in_days": 1}),
            )
            .await
            .expect("token");
        let bearer =
            Client::with_token(&app.base, token["token"].as_str().expect("token")).expect("client");
        for r in &routes {
            let path = concrete(r.path);
            let allowed = role.grants(r.perm);
            let (status, body) = check(&session, &r.method, &path, r.kind).await;
            assert!(
                !status.is_server_error(),
                "{role:?} {} {path}: {status} {body}",
                r.method
            );
            if allowed {
                assert!(
                    !denied(status),
                    "{role:?} may {} {path} but got {status}: {body}",
                    r.method
                );
            } else {
                assert_eq!(
                    status,
                    StatusCode::FORBIDDEN,
                    "{role:?} must not {} {path}: {body}",
                    r.method
                );
            }
            if r.kind != Kind::Page && !r.path.ends_with("logout") {
                let (status, body) = check(&bearer, &r.method, &path, r.kind).await;
                if allowed {
                    assert!(
                        !denied(status),
                        "{role:?} token may {} {path} but got {status}: {body}",
                        r.method
                    );
                } else {
                    assert_eq!(
                        status,
                        StatusCode::FORBIDDEN,
                        "{role:?} token must not {} {path}",
                        r.method
                    );
                }
            }
            checked += 1;
        }
    }
    assert!(checked > 7 * 40, "the matrix covered {checked} cells");
    app.stop().await;
}
