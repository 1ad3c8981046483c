//! Tests only: see `tests/` (conformance on SQLite and moto, HTTP flows, models).
