-- Read-only views for clerks: entry bodies as jsonb, kinds as words.

-- NULL instead of an error for a body that is not JSON, so one odd row can't break a report.
CREATE FUNCTION kanjo_try_jsonb(body bytea) RETURNS jsonb
LANGUAGE plpgsql IMMUTABLE STRICT AS $$
BEGIN
    RETURN convert_from(body, 'UTF8')::jsonb;
EXCEPTION WHEN others THEN
    RETURN NULL;
END
$$;

CREATE VIEW kanjo_log_entry_json AS
SELECT e.seq,
       e.idx,
       r.clock_ns,
       to_timestamp(r.clock_ns / 1e9) AS clock_at,
       CASE e.kind WHEN 1 THEN 'event' WHEN 2 THEN 'rider' END AS kind,
       e.id,
       kanjo_try_jsonb(e.body) AS body
FROM kanjo_log_entry e
JOIN kanjo_log_record r USING (seq);
