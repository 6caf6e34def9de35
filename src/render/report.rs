//! Errors as the user reads them: stack-file errors with their source lines,
//! anything else as one line per cause.

use super::Style;
use crate::config::ConfigError;

pub fn error(error: &anyhow::Error, style: Style) -> String {
    if let Some(config_error) = error.downcast_ref::<ConfigError>() {
        return config_error.render(style.color);
    }
    let mut out = format!("{} {error}\n", style.paint("error:", |s| s.red().bold()));
    for cause in error.chain().skip(1) {
        out.push_str(&format!("  caused by: {cause}\n"));
    }
    out
}

/// Whether the error is stdout having been closed (`| head -1`): the
/// command ends quietly, as ripgrep does.
pub fn is_broken_pipe(error: &anyhow::Error) -> bool {
    error.chain().any(|e| {
        e.downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
    })
}
