-- Data versions of resources (A5): each accepted load is a Parquet object
-- with its SM3 hash; rejected loads keep their row-level report.

CREATE TABLE data_versions (
    resource_id BIGINT NOT NULL REFERENCES resources(id),
    version BIGINT NOT NULL,
    grading_version BIGINT NOT NULL,
    format TEXT NOT NULL,
    original_name TEXT NOT NULL,
    row_count BIGINT NOT NULL,
    bytes BIGINT NOT NULL,
    sm3 TEXT NOT NULL,
    path TEXT NOT NULL,
    current BIGINT NOT NULL DEFAULT 0,
    uploaded_by BIGINT NOT NULL REFERENCES users(id),
    uploaded_at BIGINT NOT NULL,
    PRIMARY KEY (resource_id, version)
);

CREATE TABLE ingest_rejections (
    id {id},
    resource_id BIGINT NOT NULL REFERENCES resources(id),
    original_name TEXT NOT NULL,
    rows_read BIGINT NOT NULL,
    total_errors BIGINT NOT NULL,
    report_csv TEXT NOT NULL,
    uploaded_by BIGINT NOT NULL REFERENCES users(id),
    uploaded_at BIGINT NOT NULL
);
CREATE INDEX ingest_rejections_resource ON ingest_rejections (resource_id);
