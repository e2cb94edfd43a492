//! Unit tests of the commit engine.
