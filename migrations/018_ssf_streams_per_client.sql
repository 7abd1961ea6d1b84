-- Several event streams per receiver client (SSF 1.0 allows them: push and poll, or two
-- endpoints), each managed by its stream_id; the number per client is bounded by Vigil. A
-- stream's audience (the SETs' aud) is one or more values the receiver chose within what its
-- client may use; existing streams keep theirs (the client id).
ALTER TABLE ssf_streams DROP CONSTRAINT IF EXISTS ssf_streams_client_id_key;
CREATE INDEX IF NOT EXISTS ssf_streams_client ON ssf_streams (client_id, created_at);
ALTER TABLE ssf_streams ALTER COLUMN audience TYPE text[] USING ARRAY[audience];
