-- The authorization lifecycle (授权运营, B1-B6, G6, G9): implementation plan
-- versions, operator selections with their panel, applications, scores and
-- objections, operating agreements, scenario plans, exits, and the history
-- of every step. Validated content is stored as JSON text and parsed back
-- through the domain types.

-- One row per plan version; the versions of one plan share `series_id`
-- (the id of its first version). Approved versions never change.
CREATE TABLE plans (
    id {id},
    series_id BIGINT NOT NULL,
    version BIGINT NOT NULL,
    -- The version this one revises (NULL for the first).
    previous_id BIGINT REFERENCES plans(id),
    -- original / major / minor
    revision TEXT NOT NULL,
    state TEXT NOT NULL,
    content TEXT NOT NULL,
    created_by BIGINT NOT NULL REFERENCES users(id),
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    approved_at BIGINT,
    -- Epoch ms: the end of the 20th working day after approval.
    filing_due_at BIGINT,
    filed_at BIGINT,
    filing_reference TEXT NOT NULL DEFAULT '',
    activated_at BIGINT,
    UNIQUE (series_id, version)
);
CREATE INDEX plans_state ON plans (state);

-- The steps taken on every object of the lifecycle, for reading its
-- history (the ledger holds the same facts, signed).
CREATE TABLE authorization_steps (
    id {id},
    -- plan / selection / agreement / scenario
    object_kind TEXT NOT NULL,
    object_id BIGINT NOT NULL,
    action TEXT NOT NULL,
    from_state TEXT NOT NULL,
    to_state TEXT NOT NULL,
    -- The user who took the step; NULL for the platform itself (expiry).
    actor BIGINT REFERENCES users(id),
    note TEXT NOT NULL,
    at BIGINT NOT NULL
);
CREATE INDEX authorization_steps_object ON authorization_steps (object_kind, object_id);

CREATE TABLE selections (
    id {id},
    plan_id BIGINT NOT NULL REFERENCES plans(id),
    spec TEXT NOT NULL,
    state TEXT NOT NULL,
    application_deadline BIGINT NOT NULL,
    opened_by BIGINT NOT NULL REFERENCES users(id),
    opened_at BIGINT NOT NULL,
    -- The ranking published for public notice (JSON), and when the notice ends.
    ranking TEXT,
    notice_ends_at BIGINT,
    awarded_application_id BIGINT,
    awarded_org_id BIGINT REFERENCES orgs(id),
    updated_at BIGINT NOT NULL
);
CREATE INDEX selections_plan ON selections (plan_id);

CREATE TABLE selection_reviewers (
    selection_id BIGINT NOT NULL REFERENCES selections(id),
    user_id BIGINT NOT NULL REFERENCES users(id),
    org_id BIGINT NOT NULL REFERENCES orgs(id),
    added_by BIGINT NOT NULL REFERENCES users(id),
    added_at BIGINT NOT NULL,
    PRIMARY KEY (selection_id, user_id)
);

CREATE TABLE selection_applications (
    id {id},
    selection_id BIGINT NOT NULL REFERENCES selections(id),
    org_id BIGINT NOT NULL REFERENCES orgs(id),
    submitted_by BIGINT NOT NULL REFERENCES users(id),
    submitted_at BIGINT NOT NULL,
    materials TEXT NOT NULL,
    -- 1 until the qualification check (资格审查) finds otherwise.
    qualified BIGINT NOT NULL DEFAULT 1,
    qualification_note TEXT NOT NULL DEFAULT '',
    UNIQUE (selection_id, org_id)
);

CREATE TABLE selection_scores (
    selection_id BIGINT NOT NULL REFERENCES selections(id),
    application_id BIGINT NOT NULL REFERENCES selection_applications(id),
    reviewer_user_id BIGINT NOT NULL REFERENCES users(id),
    criterion BIGINT NOT NULL,
    centipoints BIGINT NOT NULL,
    scored_at BIGINT NOT NULL,
    PRIMARY KEY (application_id, reviewer_user_id, criterion)
);
CREATE INDEX selection_scores_selection ON selection_scores (selection_id);

CREATE TABLE selection_objections (
    id {id},
    selection_id BIGINT NOT NULL REFERENCES selections(id),
    raised_by BIGINT NOT NULL REFERENCES users(id),
    org_id BIGINT NOT NULL REFERENCES orgs(id),
    text TEXT NOT NULL,
    state TEXT NOT NULL,
    raised_at BIGINT NOT NULL,
    answer TEXT NOT NULL DEFAULT '',
    answered_by BIGINT REFERENCES users(id),
    answered_at BIGINT
);
CREATE INDEX selection_objections_selection ON selection_objections (selection_id);

CREATE TABLE agreements (
    id {id},
    selection_id BIGINT NOT NULL REFERENCES selections(id),
    plan_id BIGINT NOT NULL REFERENCES plans(id),
    operator_org_id BIGINT NOT NULL REFERENCES orgs(id),
    -- The agreement this one renews (续期), if any.
    renewal_of BIGINT REFERENCES agreements(id),
    state TEXT NOT NULL,
    content TEXT NOT NULL,
    -- The term's last day (YYYY-MM-DD), for the expiry sweep.
    term_end TEXT NOT NULL,
    created_by BIGINT NOT NULL REFERENCES users(id),
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    signed_at BIGINT,
    filing_due_at BIGINT,
    filed_at BIGINT,
    filing_reference TEXT NOT NULL DEFAULT '',
    activated_at BIGINT,
    ended_at BIGINT
);
CREATE INDEX agreements_operator ON agreements (operator_org_id, state);
CREATE INDEX agreements_state ON agreements (state, term_end);
-- One agreement per award, and one renewal per agreement, unless cancelled.
CREATE UNIQUE INDEX agreements_selection ON agreements (selection_id) WHERE state <> 'cancelled' AND renewal_of IS NULL;
CREATE UNIQUE INDEX agreements_renewal ON agreements (renewal_of) WHERE state <> 'cancelled' AND renewal_of IS NOT NULL;

CREATE TABLE scenarios (
    id {id},
    agreement_id BIGINT NOT NULL REFERENCES agreements(id),
    operator_org_id BIGINT NOT NULL REFERENCES orgs(id),
    name TEXT NOT NULL,
    state TEXT NOT NULL,
    plan TEXT NOT NULL,
    submitted_by BIGINT NOT NULL REFERENCES users(id),
    submitted_at BIGINT NOT NULL,
    decided_by BIGINT REFERENCES users(id),
    decided_at BIGINT,
    reason TEXT NOT NULL DEFAULT ''
);
CREATE INDEX scenarios_agreement ON scenarios (agreement_id);

-- The exit of an operator (退出): why, the deletion of its working copies
-- (due at once) with the destruction record, the handover checklist, and
-- the retention of its work logs (at least three years).
CREATE TABLE agreement_exits (
    agreement_id BIGINT PRIMARY KEY REFERENCES agreements(id),
    cause TEXT NOT NULL,
    exited_at BIGINT NOT NULL,
    copies_due_at BIGINT NOT NULL,
    destruction TEXT,
    destroyed_at BIGINT,
    handover TEXT NOT NULL,
    logs_retained_until BIGINT NOT NULL,
    logs_released_at BIGINT
);
