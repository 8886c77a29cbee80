-- Correction tickets and objections (A6): the ticket with its current
-- state and deadline, and every step taken on it.

CREATE TABLE tickets (
    id {id},
    resource_id BIGINT NOT NULL REFERENCES resources(id),
    data_version BIGINT,
    kind TEXT NOT NULL,
    state TEXT NOT NULL,
    field TEXT,
    records TEXT NOT NULL,
    description TEXT NOT NULL,
    raised_by BIGINT NOT NULL REFERENCES users(id),
    raiser_org_id BIGINT NOT NULL REFERENCES orgs(id),
    owner_org_id BIGINT NOT NULL REFERENCES orgs(id),
    outcome TEXT,
    answer TEXT NOT NULL DEFAULT '',
    disputes BIGINT NOT NULL DEFAULT 0,
    -- Epoch ms: the end of the last working day for the department's answer.
    due_at BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX tickets_resource ON tickets (resource_id);
CREATE INDEX tickets_owner ON tickets (owner_org_id, state);
CREATE INDEX tickets_raiser ON tickets (raiser_org_id);

CREATE TABLE ticket_steps (
    id {id},
    ticket_id BIGINT NOT NULL REFERENCES tickets(id),
    action TEXT NOT NULL,
    from_state TEXT NOT NULL,
    to_state TEXT NOT NULL,
    actor BIGINT NOT NULL REFERENCES users(id),
    note TEXT NOT NULL,
    at BIGINT NOT NULL
);
CREATE INDEX ticket_steps_ticket ON ticket_steps (ticket_id);
