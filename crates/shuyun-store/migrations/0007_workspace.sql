-- The secure workspace (C1-C5): every query an operator runs, with what
-- the ledger records of it; results asked to leave the domain and their
-- two-person review; linkage alerts for the implementing institution;
-- the differential-privacy budget of each agreement.

CREATE TABLE workspace_queries (
    id {id},
    agreement_id BIGINT NOT NULL REFERENCES agreements(id),
    scenario_id BIGINT NOT NULL REFERENCES scenarios(id),
    operator_org_id BIGINT NOT NULL REFERENCES orgs(id),
    user_id BIGINT NOT NULL REFERENCES users(id),
    -- 1 when run against synthetic look-alike data.
    synthetic BIGINT NOT NULL,
    sql_text TEXT NOT NULL,
    plan_fingerprint TEXT NOT NULL,
    -- JSON arrays of resource codes and of resource.field names.
    resources TEXT NOT NULL,
    fields TEXT NOT NULL,
    rows_scanned BIGINT NOT NULL,
    -- SM3 (hex) of the result as shown, empty when nothing was shown.
    result_sm3 TEXT NOT NULL,
    outcome TEXT NOT NULL,
    -- JSON: suppressed cells and why, or the refusal.
    detail TEXT NOT NULL,
    epsilon_micros BIGINT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE INDEX workspace_queries_scenario ON workspace_queries (scenario_id, id);
CREATE INDEX workspace_queries_org ON workspace_queries (operator_org_id, id);

CREATE TABLE workspace_releases (
    id {id},
    query_id BIGINT NOT NULL REFERENCES workspace_queries(id),
    agreement_id BIGINT NOT NULL REFERENCES agreements(id),
    scenario_id BIGINT NOT NULL REFERENCES scenarios(id),
    operator_org_id BIGINT NOT NULL REFERENCES orgs(id),
    author_user_id BIGINT NOT NULL REFERENCES users(id),
    title TEXT NOT NULL,
    media_type TEXT NOT NULL,
    content {blob} NOT NULL,
    content_sm3 TEXT NOT NULL,
    state TEXT NOT NULL,
    first_reviewer BIGINT REFERENCES users(id),
    first_note TEXT NOT NULL DEFAULT '',
    first_at BIGINT,
    second_reviewer BIGINT REFERENCES users(id),
    second_note TEXT NOT NULL DEFAULT '',
    -- The reasons of a rejection or withdrawal.
    reason TEXT NOT NULL DEFAULT '',
    decided_at BIGINT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX workspace_releases_state ON workspace_releases (state, id);
CREATE INDEX workspace_releases_org ON workspace_releases (operator_org_id, id);

CREATE TABLE workspace_alerts (
    id {id},
    query_id BIGINT NOT NULL REFERENCES workspace_queries(id),
    agreement_id BIGINT NOT NULL REFERENCES agreements(id),
    operator_org_id BIGINT NOT NULL REFERENCES orgs(id),
    kind TEXT NOT NULL,
    detail TEXT NOT NULL,
    state TEXT NOT NULL,
    handled_by BIGINT REFERENCES users(id),
    handled_note TEXT NOT NULL DEFAULT '',
    handled_at BIGINT,
    created_at BIGINT NOT NULL
);
CREATE INDEX workspace_alerts_state ON workspace_alerts (state, id);

CREATE TABLE privacy_budgets (
    agreement_id BIGINT PRIMARY KEY REFERENCES agreements(id),
    total_micros BIGINT NOT NULL,
    spent_micros BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);

-- The output-checking policy of an agreement (k, dominance, p% rule,
-- rounding) as JSON; the defaults apply until one is set.
CREATE TABLE workspace_policies (
    agreement_id BIGINT PRIMARY KEY REFERENCES agreements(id),
    policy TEXT NOT NULL,
    updated_at BIGINT NOT NULL
);
