//! Errors as the user reads them: stack-file errors with their source lines,
//! anything else as one line per cause.

use super::Style;
use crate::config::ConfigError;
use crate::i18n::Localized;

pub fn error(error: &anyhow::Error, style: Style) -> String {
    if let Some(config_error) = error.downcast_ref::<ConfigError>() {
        return config_error.render(style.color, style.lang);
    }
    // A message of the catalogue is shown in the reader's language.
    let text = |e: &(dyn std::error::Error + 'static)| match e.downcast_ref::<Localized>() {
        Some(Localized(msg)) => style.text(msg),
        None => e.to_string(),
    };
    let label = style.tr("error.label");
    let top = match error.downcast_ref::<Localized>() {
        Some(Localized(msg)) => style.text(msg),
        None => error.to_string(),
    };
    let mut out = format!("{} {top}\n", style.paint(&label, |s| s.red().bold()));
    for cause in error.chain().skip(1) {
        out.push_str(&format!("  {} {}\n", style.tr("error.caused_by"), text(cause)));
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
