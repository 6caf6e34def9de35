//! Operations: what each command does, over plain data. The CLI builds the
//! options and calls one of these; they never print (events and results go
//! back to the caller, which renders them).

pub mod apply;
pub mod destroy;
pub mod inventory;
pub mod plan;
pub mod sleep;
pub mod sweep;
pub mod token;

use crate::aws::Target;
use crate::config::Stack;

/// Where a stack's AWS calls go.
pub fn target_for(stack: &Stack, profile: Option<String>, endpoint_url: Option<String>, verbose: bool) -> Target {
    Target {
        region: stack.meta.region.clone(),
        profile,
        endpoint_url,
        verbose,
    }
}
