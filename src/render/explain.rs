//! `ekstack explain` as text.
