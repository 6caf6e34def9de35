//! What every command shares: the global flags, the styles of stdout and
//! stderr, the shell that writes stderr lines, the log of AWS calls, and a
//! tokio runtime for commands that talk to AWS.

use std::sync::Arc;

use anyhow::Result;

use super::GlobalArgs;
use crate::aws::{CallLog, Target};
use crate::config::Stack;
use crate::render::{Shell, Styles};

pub struct Session {
    pub global: GlobalArgs,
    pub styles: Styles,
    pub shell: Arc<Shell>,
    pub calls: Arc<CallLog>,
}

impl Session {
    pub fn new(global: GlobalArgs) -> Session {
        let lang = crate::i18n::Lang::choose(global.lang.map(Into::into), |name| std::env::var(name).ok());
        let styles = Styles::detect(global.no_color, lang);
        let shell = Arc::new(Shell::new(styles.stderr));
        // With -v every call is shown as it completes, through the shell so
        // it never tears a progress bar.
        let observer: Option<crate::aws::CallObserver> = global.verbose.then(|| {
            let shell = shell.clone();
            Arc::new(move |record: &crate::aws::CallRecord| shell.call(record)) as crate::aws::CallObserver
        });
        Session {
            global,
            styles,
            shell,
            calls: Arc::new(CallLog::new(observer)),
        }
    }

    /// Where a stack's calls go.
    pub fn target(&self, stack: &Stack) -> Target {
        crate::ops::target_for(
            stack,
            self.global.profile.clone(),
            self.global.endpoint_url.clone(),
            self.calls.clone(),
        )
    }

    /// Where calls go for a stack known only by its region (`unlock --stack`).
    pub fn target_in(&self, region: &str) -> Target {
        Target {
            region: region.to_string(),
            profile: self.global.profile.clone(),
            endpoint_url: self.global.endpoint_url.clone(),
            calls: self.calls.clone(),
        }
    }

    pub fn runtime(&self) -> Result<tokio::runtime::Runtime> {
        Ok(tokio::runtime::Builder::new_multi_thread().enable_all().build()?)
    }

    /// On every way out: with -v, how many AWS calls the command made; for
    /// tests, the counts in the file `EKSTACK_CALL_STATS` names.
    pub fn finish(&self) {
        let stats = self.calls.stats();
        if self.global.verbose && stats.calls > 0 {
            self.shell.line(crate::render::summary::calls(&stats).trim_end());
        }
        if let Ok(path) = std::env::var("EKSTACK_CALL_STATS") {
            let _ = std::fs::write(path, serde_json::to_string(&stats).unwrap_or_default());
        }
    }
}
