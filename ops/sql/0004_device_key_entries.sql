-- Device-key records (entry kind 4, `POST /v1/riders/{id}/keys`) in the clerks' view of the log.
CREATE OR REPLACE VIEW kanjo_log_entry_json AS
SELECT e.seq,
       e.idx,
       r.clock_ns,
       to_timestamp(r.clock_ns / 1e9) AS clock_at,
       CASE e.kind WHEN 1 THEN 'event' WHEN 2 THEN 'rider' WHEN 3 THEN 'shop' WHEN 4 THEN 'device_key' END AS kind,
       e.id,
       kanjo_try_jsonb(e.body) AS body
FROM kanjo_log_entry e
JOIN kanjo_log_record r USING (seq);
