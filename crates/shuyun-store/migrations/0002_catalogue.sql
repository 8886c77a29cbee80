-- The resource catalogue: resources, grading versions (schema + grades),
-- negative-list entries and sharing consents.

CREATE TABLE resources (
    id {id},
    code TEXT NOT NULL UNIQUE,
    owner_org_id BIGINT NOT NULL REFERENCES orgs(id),
    name TEXT NOT NULL,
    description TEXT NOT NULL,
    domain TEXT NOT NULL,
    frequency TEXT NOT NULL,
    source_system TEXT NOT NULL,
    standard TEXT NOT NULL,
    contact TEXT NOT NULL,
    rights_holder TEXT NOT NULL,
    rights_processor TEXT NOT NULL,
    rights_operator TEXT NOT NULL,
    shared_from_org_id BIGINT REFERENCES orgs(id),
    public BIGINT NOT NULL DEFAULT 0,
    open_data BIGINT NOT NULL DEFAULT 0,
    created_at BIGINT NOT NULL
);
CREATE INDEX resources_owner ON resources (owner_org_id);

CREATE TABLE resource_gradings (
    resource_id BIGINT NOT NULL REFERENCES resources(id),
    version BIGINT NOT NULL,
    schema_json TEXT NOT NULL,
    resource_grade TEXT NOT NULL,
    basis_json TEXT NOT NULL,
    state TEXT NOT NULL,
    proposed_by BIGINT NOT NULL REFERENCES users(id),
    proposed_at BIGINT NOT NULL,
    decided_by BIGINT REFERENCES users(id),
    decided_at BIGINT,
    decision_note TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (resource_id, version)
);

CREATE TABLE negative_list (
    id {id},
    resource_id BIGINT NOT NULL REFERENCES resources(id),
    legal_basis TEXT NOT NULL,
    state TEXT NOT NULL,
    requested_by BIGINT NOT NULL REFERENCES users(id),
    requested_at BIGINT NOT NULL,
    decided_by BIGINT REFERENCES users(id),
    decided_at BIGINT,
    decision_note TEXT NOT NULL DEFAULT '',
    list_version BIGINT
);
CREATE INDEX negative_list_resource ON negative_list (resource_id);

CREATE TABLE resource_consents (
    id {id},
    resource_id BIGINT NOT NULL REFERENCES resources(id),
    provider_org_id BIGINT NOT NULL REFERENCES orgs(id),
    consent TEXT NOT NULL,
    document TEXT NOT NULL,
    recorded_by BIGINT NOT NULL REFERENCES users(id),
    recorded_at BIGINT NOT NULL
);
CREATE INDEX resource_consents_resource ON resource_consents (resource_id);
