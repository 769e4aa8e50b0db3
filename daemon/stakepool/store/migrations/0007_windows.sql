-- Rewards windows kept durably once read (issue 12): a window is read from the beacon node as soon
-- as its epoch closes and kept here, so settling it later never needs the node to still hold its
-- states (a pruning node forgets them two epochs after finality). One row per epoch, the JSON of
-- what the rewards reader produced; rows older than the last final epoch are deleted.
CREATE TABLE ledger_windows (
    epoch INTEGER PRIMARY KEY CHECK (epoch >= 1),
    block_roots TEXT NOT NULL,
    body_json TEXT NOT NULL,
    kept_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
) STRICT;

-- A merged window: the span [merged_from, merged_to] whose inner end states no node could serve
-- any more, settled as one window from the last and the next readable states (exact in total).
-- Every epoch of the span carries the marker; NULL on an epoch settled from its own window.
ALTER TABLE ledger_epochs ADD COLUMN merged_from INTEGER;
ALTER TABLE ledger_epochs ADD COLUMN merged_to INTEGER;
