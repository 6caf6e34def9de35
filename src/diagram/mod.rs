//! The picture of a stack: what `ekstack diagram` draws, as a value.
//! (Filled in by the diagram work.)
