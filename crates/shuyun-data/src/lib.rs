//! The data plane: ingestion of department data into validated Parquet,
//! quality evaluation of stored versions, and the deterministic pilot data
//! generator.

pub mod export;
pub mod ingest;
pub mod objects;
pub mod pilot;
pub mod quality;
pub mod synthetic;
