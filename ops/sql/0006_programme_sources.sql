-- Programme versions (entry kind 5, `kanjo programme apply`, issue 12): each version's whole
-- source (the programme TOML and the GTFS fare files it names, as JSON), kept by its digest so
-- that the log replays with exactly what it was written with. Written before the log entry that
-- names it; never changed (the same digest with other bytes is refused).
CREATE TABLE IF NOT EXISTS kanjo_programme_source (
    digest text  PRIMARY KEY CHECK (length(digest) = 32),
    bytes  bytea NOT NULL
);

CREATE OR REPLACE VIEW kanjo_log_entry_json AS
SELECT e.seq,
       e.idx,
       r.clock_ns,
       to_timestamp(r.clock_ns / 1e9) AS clock_at,
       CASE e.kind WHEN 1 THEN 'event' WHEN 2 THEN 'rider' WHEN 3 THEN 'shop' WHEN 4 THEN 'device_key'
                   WHEN 5 THEN 'programme' END AS kind,
       e.id,
       kanjo_try_jsonb(e.body) AS body
FROM kanjo_log_entry e
JOIN kanjo_log_record r USING (seq);
