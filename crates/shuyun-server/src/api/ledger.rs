//! The ledger API: public key, signed checkpoints, entries, and inclusion
//! and consistency proofs that an outside verifier can check.

use axum::Json;
use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use shuyun_domain::DomainError;
use shuyun_ledger::{Checkpoint, Hash, verify_inclusion};
use shuyun_store::EntryView;
use shuyun_store::ledger::{CheckpointView, EntryFilter, leaf_data};

use crate::AppState;
use crate::error::{ApiError, ApiResult};
use crate::extract::{ApiPath, ApiQuery};

#[derive(Serialize, schemars::JsonSchema)]
pub struct KeyInfo {
    /// The checkpoint origin line.
    pub origin: String,
    /// C2SP verifier key: `name+keyid+base64(type||SM2 public key)`.
    pub vkey: String,
    pub algorithm: String,
    /// Hex of the 65-byte uncompressed SM2 public key.
    pub public_key_hex: String,
}

pub async fn key(State(s): State<AppState>) -> Json<KeyInfo> {
    let v = s.store.verifier();
    Json(KeyInfo {
        origin: s.store.origin().to_string(),
        vkey: v.to_vkey_string(),
        algorithm: "SM2 (GM/T 0003) signatures over SM3 (GM/T 0004) Merkle tree checkpoints, C2SP signed-note".into(),
        public_key_hex: hex::encode(v.public_key()),
    })
}

async fn latest(s: &AppState) -> ApiResult<CheckpointView> {
    s.store
        .latest_checkpoint()
        .await?
        .ok_or_else(|| DomainError::not_found("checkpoint (the ledger is empty)").into())
}

pub async fn checkpoint(State(s): State<AppState>) -> ApiResult<Json<CheckpointView>> {
    Ok(Json(latest(&s).await?))
}

pub async fn checkpoint_text(State(s): State<AppState>) -> ApiResult<Response> {
    let cp = latest(&s).await?;
    Ok((
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        cp.note,
    )
        .into_response())
}

#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct EntryQuery {
    /// e.g. `user:3`
    pub actor: Option<String>,
    /// e.g. `auth.login`
    pub action: Option<String>,
    /// e.g. `org:2`
    pub object: Option<String>,
    /// Only entries with a smaller index (paging backwards).
    #[schemars(range(min = 0))]
    pub before: Option<u64>,
    /// At most this many (1-500, default 50).
    #[schemars(range(min = 1, max = 500))]
    pub limit: Option<u32>,
}

pub async fn entries(
    State(s): State<AppState>,
    ApiQuery(q): ApiQuery<EntryQuery>,
) -> ApiResult<Json<Vec<EntryView>>> {
    if q.limit.is_some_and(|l| !(1..=500).contains(&l)) {
        return Err(DomainError::invalid("limit", "limit is 1 to 500").into());
    }
    let f = EntryFilter {
        actor: q.actor,
        action: q.action,
        object: q.object,
        before: q.before,
        limit: q.limit.unwrap_or(50),
    };
    Ok(Json(s.store.ledger_entries(&f).await?))
}

#[derive(Serialize, schemars::JsonSchema)]
pub struct InclusionProof {
    pub index: u64,
    pub tree_size: u64,
    /// Hex SM3 leaf hash of the entry.
    pub leaf_hash: String,
    /// Hex hashes of the RFC 9162 audit path.
    pub proof: Vec<String>,
    /// The signed checkpoint the proof leads to.
    pub checkpoint: CheckpointView,
}

#[derive(Serialize, schemars::JsonSchema)]
pub struct EntryWithProof {
    pub entry: EntryView,
    /// The exact text hashed into the leaf.
    pub leaf_data: String,
    pub inclusion: InclusionProof,
    /// Whether the server checked the leaf, the proof and the checkpoint signature.
    pub verified: bool,
}

fn hexes(p: &[Hash]) -> Vec<String> {
    p.iter().map(hex::encode).collect()
}

async fn checkpoint_for(s: &AppState, size: Option<u64>) -> ApiResult<CheckpointView> {
    match size {
        None => latest(s).await,
        Some(n) => s.store.checkpoint_at(n).await?.ok_or_else(|| {
            DomainError::not_found(format!("signed checkpoint at tree size {n}")).into()
        }),
    }
}

async fn inclusion_for(
    s: &AppState,
    index: u64,
    size: Option<u64>,
) -> ApiResult<(EntryView, InclusionProof)> {
    let cp = checkpoint_for(s, size).await?;
    if index >= cp.size {
        return Err(DomainError::new(
            shuyun_domain::ErrorCode::NotFound,
            format!("entry {index} in a tree of {} entries", cp.size),
        )
        .into());
    }
    let entry = s
        .store
        .ledger_entry(index)
        .await?
        .ok_or_else(|| ApiError(DomainError::not_found(format!("entry {index}"))))?;
    let proof = s.store.inclusion_proof(index, cp.size).await?;
    Ok((
        entry.clone(),
        InclusionProof {
            index,
            tree_size: cp.size,
            leaf_hash: entry.leaf_hash,
            proof: hexes(&proof),
            checkpoint: cp,
        },
    ))
}

/// Check an entry's proof the way an outside verifier would.
pub fn verify_entry(s: &AppState, entry: &EntryView, inc: &InclusionProof) -> (String, bool) {
    let data = leaf_data(
        entry.index,
        entry.ts,
        &entry.actor,
        &entry.action,
        &entry.object,
        &entry.detail.to_string(),
    );
    let leaf = shuyun_ledger::leaf_hash(data.as_bytes());
    let proof: Option<Vec<Hash>> = inc
        .proof
        .iter()
        .map(|h| hex::decode(h).ok().and_then(|v| v.try_into().ok()))
        .collect();
    let ok = hex::encode(leaf) == entry.leaf_hash
        && s.store
            .verifier()
            .open(&inc.checkpoint.note)
            .ok()
            .and_then(|t| Checkpoint::parse(&t).ok())
            .zip(proof)
            .is_some_and(|(cp, proof)| {
                verify_inclusion(&leaf, inc.index, cp.size, &proof, &cp.root).is_ok()
            });
    (data, ok)
}

pub async fn entry(
    State(s): State<AppState>,
    ApiPath(index): ApiPath<u64>,
) -> ApiResult<Json<EntryWithProof>> {
    let (entry, inclusion) = inclusion_for(&s, index, None).await?;
    let (leaf_data, verified) = verify_entry(&s, &entry, &inclusion);
    Ok(Json(EntryWithProof {
        entry,
        leaf_data,
        inclusion,
        verified,
    }))
}

#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct InclusionQuery {
    pub index: u64,
    /// A checkpointed tree size; default the latest.
    pub tree_size: Option<u64>,
}

pub async fn inclusion(
    State(s): State<AppState>,
    ApiQuery(q): ApiQuery<InclusionQuery>,
) -> ApiResult<Json<InclusionProof>> {
    Ok(Json(inclusion_for(&s, q.index, q.tree_size).await?.1))
}

#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ConsistencyQuery {
    /// The older checkpointed size.
    pub old_size: u64,
    /// The newer checkpointed size; default the latest.
    pub new_size: Option<u64>,
}

#[derive(Serialize, schemars::JsonSchema)]
pub struct ConsistencyProof {
    pub old: CheckpointView,
    pub new: CheckpointView,
    /// Hex hashes of the RFC 9162 consistency proof.
    pub proof: Vec<String>,
}

pub async fn consistency(
    State(s): State<AppState>,
    ApiQuery(q): ApiQuery<ConsistencyQuery>,
) -> ApiResult<Json<ConsistencyProof>> {
    let new = checkpoint_for(&s, q.new_size).await?;
    let old = checkpoint_for(&s, Some(q.old_size)).await?;
    if old.size > new.size {
        return Err(DomainError::new(
            shuyun_domain::ErrorCode::NotFound,
            format!(
                "consistency proof from {} down to {} entries (a tree only grows)",
                old.size, new.size
            ),
        )
        .into());
    }
    let proof = s.store.consistency_proof(old.size, new.size).await?;
    Ok(Json(ConsistencyProof {
        old,
        new,
        proof: hexes(&proof),
    }))
}
