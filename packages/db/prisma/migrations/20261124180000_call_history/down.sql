-- Rollback of 20261124180000_call_history: drops the call history tables and their types.
-- Destroys the recorded history; take a dump first (pg_dump -t 'call_*' -t mode_transition).
DROP TABLE IF EXISTS "call_metrics";
DROP TABLE IF EXISTS "mode_transition";
DROP TABLE IF EXISTS "call_participant";
DROP TABLE IF EXISTS "call_session";
DROP TYPE IF EXISTS "MetricSource";
DROP TYPE IF EXISTS "TransitionResult";
DROP TYPE IF EXISTS "CallMode";
