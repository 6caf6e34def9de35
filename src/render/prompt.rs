//! Confirmation on a terminal: a question on stderr, an answer from stdin.
//! Without a terminal nothing is asked and the answer is no, unless `--yes`.

use std::io::{BufRead, IsTerminal, Write};

use anyhow::{bail, Result};

use crate::ops::Prompt;

/// Asks; refuses without a terminal unless `yes`.
pub fn confirm(prompt: Prompt<'_>, yes: bool) -> Result<bool> {
    if yes {
        return Ok(true);
    }
    let (question, expected, what) = match prompt {
        Prompt::Apply => (
            "Do you want to perform these actions? Only 'yes' will be accepted.".to_string(),
            "yes".to_string(),
            "apply",
        ),
        Prompt::Destroy { stack } => (
            format!("Destroy every resource of stack \"{stack}\"? There is no undo. Type the stack name to confirm."),
            stack.to_string(),
            "destroy",
        ),
        Prompt::Sleep => (
            "Put the stack to sleep? Only 'yes' will be accepted.".to_string(),
            "yes".to_string(),
            "sleep",
        ),
        Prompt::Unlock { holder } => (
            format!("The lock is held by {holder}. Remove it? Only if that run is dead: a live one would go on unguarded. Only 'yes' will be accepted."),
            "yes".to_string(),
            "unlock",
        ),
    };
    if !std::io::stdin().is_terminal() {
        bail!("refusing to {what} without confirmation: stdin is not a terminal; re-run with --yes");
    }
    let mut err = std::io::stderr();
    write!(err, "{question}\n  Enter a value: ")?;
    err.flush()?;
    let mut line = String::new();
    std::io::stdin().lock().read_line(&mut line)?;
    Ok(line.trim() == expected)
}
