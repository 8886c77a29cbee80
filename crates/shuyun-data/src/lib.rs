//! The data plane: ingestion of department data into validated Parquet, and
//! the deterministic pilot data generator.

pub mod ingest;
pub mod pilot;
