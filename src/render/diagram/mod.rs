//! The stack's picture as Mermaid and as a self-contained SVG.
//! (Filled in by the diagram work.)
