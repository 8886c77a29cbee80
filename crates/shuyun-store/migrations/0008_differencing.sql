-- The differencing history (C3): the sketch of every cell a scenario's
-- queries released, so that a later result differing from an earlier one
-- by a small group is caught after a restart too. A sketch holds sums of
-- keyed unit digests, meaningless outside the agreement: no value, no
-- identifier. Only the newest cells of a scenario are kept.

CREATE TABLE workspace_released_cells (
    id {id},
    scenario_id BIGINT NOT NULL REFERENCES scenarios(id),
    query_id BIGINT NOT NULL REFERENCES workspace_queries(id),
    -- 1 when each unit of the cell is one row of it.
    distinct_units BIGINT NOT NULL,
    sketch {blob} NOT NULL
);
CREATE INDEX workspace_released_cells_scenario ON workspace_released_cells (scenario_id, id);
