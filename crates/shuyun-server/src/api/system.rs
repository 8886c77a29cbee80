//! Health, readiness, metrics and the OpenAPI document.

use axum::Json;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use crate::AppState;

#[derive(Serialize, schemars::JsonSchema)]
pub struct Health {
    pub status: String,
}

pub async fn healthz() -> Json<Health> {
    Json(Health {
        status: "ok".into(),
    })
}

pub async fn readyz(State(s): State<AppState>) -> Response {
    match s.store.ping().await {
        Ok(()) => Json(Health {
            status: "ready".into(),
        })
        .into_response(),
        Err(e) => {
            tracing::warn!(error = %e, "not ready");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                Json(Health {
                    status: "database unreachable".into(),
                }),
            )
                .into_response()
        }
    }
}

pub async fn metrics(State(s): State<AppState>) -> Response {
    let size = s
        .store
        .latest_checkpoint()
        .await
        .ok()
        .flatten()
        .map_or(0, |c| c.size);
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        s.metrics.render(size),
    )
        .into_response()
}

pub async fn openapi(State(s): State<AppState>) -> Json<serde_json::Value> {
    Json((*s.openapi).clone())
}
