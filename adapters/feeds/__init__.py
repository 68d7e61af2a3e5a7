"""A practice's own feeds (CSV, FHIR R4, HL7 v2 ADT) turned into the contract's facts and
recorded as `ingest` records NDJSON: the same decisions, idempotency, per-item answers and
resend memory. Each feed yields Items; `record` answers each one, naming it."""
