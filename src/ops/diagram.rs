//! `ekstack diagram`: the stack, as the file says or as a plan would change it.
