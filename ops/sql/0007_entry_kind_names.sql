-- Every log entry kind by name in the clerks' view of the log (issue 11): 0002–0006 named kinds
-- 1–5 only, so settlements, payouts, reconciliation runs, their resolutions and key changes
-- showed a NULL kind. The names are the store's (`EntryKind::as_str`, store/src/record.rs);
-- `kind_ja` is the label clerks read. A kind this table does not know shows as 'unknown'
-- rather than NULL, so a new kind without a migration is seen, not hidden.
CREATE TABLE IF NOT EXISTS kanjo_entry_kind (
    kind    smallint PRIMARY KEY,
    name    text     NOT NULL UNIQUE,
    name_ja text     NOT NULL
);

INSERT INTO kanjo_entry_kind (kind, name, name_ja) VALUES
    (1,  'event',          'イベント'),
    (2,  'rider',          '利用者'),
    (3,  'shop',           '加盟店'),
    (4,  'device_key',     '端末鍵'),
    (5,  'programme',      '制度'),
    (6,  'settlement',     '締め'),
    (7,  'payout',         '支払'),
    (8,  'reconciliation', '照合'),
    (9,  'resolution',     '照合例外の処理'),
    (10, 'key_change',     'APIキー変更')
ON CONFLICT (kind) DO UPDATE SET name = EXCLUDED.name, name_ja = EXCLUDED.name_ja;

-- Same columns in the same order as before (CREATE OR REPLACE VIEW may only add at the end).
CREATE OR REPLACE VIEW kanjo_log_entry_json AS
SELECT e.seq,
       e.idx,
       r.clock_ns,
       to_timestamp(r.clock_ns / 1e9) AS clock_at,
       COALESCE(k.name, 'unknown') AS kind,
       e.id,
       kanjo_try_jsonb(e.body) AS body,
       COALESCE(k.name_ja, '不明') AS kind_ja
FROM kanjo_log_entry e
JOIN kanjo_log_record r USING (seq)
LEFT JOIN kanjo_entry_kind k ON k.kind = e.kind;
