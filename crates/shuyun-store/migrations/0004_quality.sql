-- Data quality (A6): versioned rule sets per resource and one report per
-- evaluation of a data version (re-evaluations add rows; the newest counts).

CREATE TABLE quality_rule_sets (
    resource_id BIGINT NOT NULL REFERENCES resources(id),
    version BIGINT NOT NULL,
    rules TEXT NOT NULL,
    set_by BIGINT NOT NULL REFERENCES users(id),
    set_at BIGINT NOT NULL,
    PRIMARY KEY (resource_id, version)
);

CREATE TABLE quality_reports (
    id {id},
    resource_id BIGINT NOT NULL,
    data_version BIGINT NOT NULL,
    -- 0: the default rules derived from the schema.
    rules_version BIGINT NOT NULL,
    score_centi BIGINT NOT NULL,
    report TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    FOREIGN KEY (resource_id, data_version) REFERENCES data_versions(resource_id, version)
);
CREATE INDEX quality_reports_version ON quality_reports (resource_id, data_version);
